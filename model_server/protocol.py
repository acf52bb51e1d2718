"""Open Inference Protocol v2 (and KServe v1) payloads, and their checked conversion to numpy arrays."""

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from model_server.errors import InvalidInput
from model_server.repository import ModelCard, TensorSpec
from model_server.runtime import NUMPY_DTYPES


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    name: str


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None
    parameters: dict[str, Any] | None = None


class PredictRequest(BaseModel):
    instances: list[Any] = Field(min_length=1)


def _to_array(spec: TensorSpec, tensor: RequestInput) -> np.ndarray:
    where = f"input {tensor.name!r}"
    if tensor.datatype != spec.datatype:
        raise InvalidInput(f"{where} has datatype {tensor.datatype}, the model expects {spec.datatype}")
    if len(tensor.shape) != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, tensor.shape)
    ):
        raise InvalidInput(f"{where} has shape {tensor.shape}, the model expects {list(spec.shape)} (-1: any size)")
    if tensor.shape[0] < 1 or min(tensor.shape) < 0:
        raise InvalidInput(f"{where} has shape {tensor.shape}: the batch dimension must be at least 1")
    try:
        array = np.asarray(tensor.data, dtype=NUMPY_DTYPES[spec.datatype])
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where}: data is not a regular array of {spec.datatype} ({exc})") from None
    if array.size != math.prod(tensor.shape):
        raise InvalidInput(f"{where}: {array.size} values do not fill shape {tensor.shape}")
    array = array.reshape(tensor.shape)
    if spec.datatype == "BYTES":
        if not all(isinstance(item, str) for item in array.flat):
            raise InvalidInput(f"{where}: BYTES data must be strings")
    elif array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"{where}: data holds NaN or infinity")
    return array


def request_arrays(card: ModelCard, request: InferRequest) -> dict[str, np.ndarray]:
    """The request's inputs as arrays keyed by name, checked against the model card."""
    specs = {spec.name: spec for spec in card.inputs}
    given = {tensor.name: tensor for tensor in request.inputs}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise InvalidInput(f"unknown input {', '.join(map(repr, unknown))}; model {card.name!r} takes {sorted(specs)}")
    missing = sorted(set(specs) - set(given))
    if missing:
        raise InvalidInput(f"missing input {', '.join(map(repr, missing))} for model {card.name!r}")
    arrays = {name: _to_array(specs[name], tensor) for name, tensor in given.items()}
    if len({len(a) for a in arrays.values()}) > 1:
        raise InvalidInput("inputs disagree on the batch size (first dimension)")
    return arrays


def requested_outputs(card: ModelCard, request: InferRequest) -> list[TensorSpec]:
    if not request.outputs:
        return list(card.outputs)
    specs = {spec.name: spec for spec in card.outputs}
    unknown = sorted({o.name for o in request.outputs} - set(specs))
    if unknown:
        raise InvalidInput(f"unknown output {', '.join(map(repr, unknown))}; model {card.name!r} gives {sorted(specs)}")
    return [specs[o.name] for o in request.outputs]


def infer_response(
    card: ModelCard, outputs: dict[str, np.ndarray], wanted: list[TensorSpec], request_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_name": card.name,
        "model_version": card.version,
        "outputs": [
            {
                "name": s.name,
                "datatype": s.datatype,
                "shape": list(outputs[s.name].shape),
                "data": outputs[s.name].ravel(),
            }
            for s in wanted
        ],
    }
    if request_id is not None:
        body["id"] = request_id
    return body


def predict_arrays(card: ModelCard, request: PredictRequest) -> dict[str, np.ndarray]:
    """KServe v1: `instances` are rows of the model's single input."""
    spec = card.inputs[0]
    shape = list(np.shape(np.asarray(request.instances, dtype=object)))
    tensor = RequestInput(name=spec.name, shape=shape, datatype=spec.datatype, data=request.instances)
    return {spec.name: _to_array(spec, tensor)}
