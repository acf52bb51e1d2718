"""Open Inference Protocol v2 (and KServe v1) payloads, and their checked conversion to numpy arrays.

Every value the client controls is checked here, before it can reach a batch or a response: datatypes are
enforced (a string or a boolean is not an FP32), shapes are integers, names are unique, rows and text lengths
are capped, and strings that JSON allows but UTF-8 cannot hold (lone surrogates such as "\\ud800") are refused.
"""

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

from model_server.errors import InvalidInput
from model_server.repository import ModelCard, TensorSpec
from model_server.runtime import NUMPY_DTYPES


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("lone_surrogate", "holds a lone UTF-16 surrogate, which is not valid UTF-8") from None
    return value


# A string that can be written back in a UTF-8 response (the request id is echoed; names show in errors).
Utf8Str = Annotated[str, AfterValidator(_utf8)]


def _integral(value: Any) -> Any:
    # JSON (and so the OpenAPI schema) has one number type: 64.0 is the integer 64 there, and is read as such.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A dimension: an integer ("64" is refused, not coerced), and one small enough to print in an error message.
Dimension = Annotated[StrictInt, Field(ge=0, le=2**40), BeforeValidator(_integral)]

# The datatypes the server converts (a model's own inputs and outputs are among them).
Datatype = Literal["FP32", "FP64", "INT64", "INT32", "BYTES"]
# As a request gives it: a string UTF-8 cannot hold is named as such before it is compared with the choices.
RequestDatatype = Annotated[Datatype, BeforeValidator(lambda value: _utf8(value) if isinstance(value, str) else value)]


class RequestInput(BaseModel):
    name: Utf8Str
    shape: list[Dimension] = Field(max_length=32)
    datatype: RequestDatatype
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    name: Utf8Str


class InferRequest(BaseModel):
    id: Utf8Str | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None
    parameters: dict[str, Any] | None = None


class PredictRequest(BaseModel):
    instances: list[Any] = Field(min_length=1)


# What the server answers (the OpenAPI schema's 200 responses; the routes write these shapes directly).


class TensorMetadata(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1: any size")


class OutputTensor(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]
    data: list[float] = Field(description="The values, flattened in row-major order")


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = Field(default=None, description="The request's id, when it gave one")
    outputs: list[OutputTensor]


class PredictResponse(BaseModel):
    predictions: list[float | list[float]] = Field(description="The model's first output, one item per instance")


class ModelParameters(BaseModel):
    version: str
    task: str
    metrics: dict[str, Any]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: Literal["onnxruntime_onnx"]
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: ModelParameters


class ModelReady(BaseModel):
    name: str
    version: str
    ready: bool


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: Literal[True]


class Ready(BaseModel):
    ready: Literal[True]


# The JSON values each datatype accepts: a boolean is not a number here, and a string is never coerced.
ACCEPTED_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "FP32": ((int, float), "numbers"),
    "FP64": ((int, float), "numbers"),
    "INT64": ((int,), "integers"),
    "INT32": ((int,), "integers"),
    "BYTES": ((str,), "strings"),
}
JSON_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null", dict: "object"}


def _json_type(kind: type) -> str:
    return JSON_NAMES.get(kind, "a nested array (ragged, or deeper than the shape)" if kind is list else kind.__name__)


def _to_array(
    spec: TensorSpec, tensor: RequestInput, max_rows: int | None = None, max_text_chars: int | None = None
) -> np.ndarray:
    where = f"input {tensor.name!r}"
    if tensor.datatype != spec.datatype:
        raise InvalidInput(f"{where} has datatype {tensor.datatype!r}, the model expects {spec.datatype}")
    if len(tensor.shape) != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, tensor.shape, strict=True)
    ):
        raise InvalidInput(f"{where} has shape {tensor.shape}, the model expects {list(spec.shape)} (-1: any size)")
    if tensor.shape[0] < 1 or min(tensor.shape) < 0:
        raise InvalidInput(f"{where} has shape {tensor.shape}: the batch dimension must be at least 1")
    if max_rows is not None and tensor.shape[0] > max_rows:
        raise InvalidInput(
            f"{where} has {tensor.shape[0]} rows, over the limit of {max_rows} per request "
            "(--max-request-rows): split it into several requests"
        )
    try:
        cells = np.asarray(tensor.data, dtype=object)  # no conversion yet: the value types are checked first
    except ValueError as exc:
        raise InvalidInput(f"{where}: data is not a regular array of {spec.datatype} ({exc})") from None
    if cells.ndim > len(tensor.shape):
        raise InvalidInput(f"{where}: data is nested {cells.ndim} deep, more than shape {tensor.shape} allows")
    accepted, want = ACCEPTED_TYPES[spec.datatype]
    wrong = {kind for kind in map(type, cells.flat) if kind not in accepted}
    if wrong:
        got = ", ".join(sorted(_json_type(kind) for kind in wrong))
        raise InvalidInput(f"{where}: data is not a regular array of {spec.datatype}: values must be {want}, got {got}")
    if cells.size != math.prod(tensor.shape):
        raise InvalidInput(f"{where}: {cells.size} values do not fill shape {tensor.shape}")
    if spec.datatype == "BYTES":
        _check_texts(where, cells, max_text_chars)
        return cells.reshape(tensor.shape)
    try:
        with np.errstate(over="ignore"):  # a float beyond FP32's range becomes inf, refused just below
            array = np.asarray(cells, dtype=NUMPY_DTYPES[spec.datatype]).reshape(tensor.shape)
    except OverflowError:
        raise InvalidInput(f"{where}: a value is out of range for {spec.datatype}") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"{where}: data holds NaN or infinity (or a value out of range for {spec.datatype})")
    return array


def _check_texts(where: str, texts: np.ndarray, max_chars: int | None) -> None:
    for index, text in enumerate(texts.flat):
        if max_chars is not None and len(text) > max_chars:
            raise InvalidInput(
                f"{where}: text {index} has {len(text)} characters, over the limit of {max_chars} (--max-text-chars)"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{where}: text {index} holds a lone UTF-16 surrogate (not valid UTF-8)") from None


def _names(names: list[str], shown: int = 5) -> str:
    """Names quoted for an error message, a few at most: a client may send thousands."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(repr(name[:100]) for name in names[:shown]) + more


def request_arrays(
    card: ModelCard, request: InferRequest, max_rows: int | None = None, max_text_chars: int | None = None
) -> dict[str, np.ndarray]:
    """The request's inputs as arrays keyed by name, checked against the model card and the limits."""
    specs = {spec.name: spec for spec in card.inputs}
    given = {tensor.name: tensor for tensor in request.inputs}
    if len(given) != len(request.inputs):
        names = [tensor.name for tensor in request.inputs]
        twice = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(f"input {_names(twice)} given more than once")
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise InvalidInput(f"unknown input {_names(unknown)}; model {card.name!r} takes {sorted(specs)}")
    missing = sorted(set(specs) - set(given))
    if missing:
        raise InvalidInput(f"missing input {_names(missing)} for model {card.name!r}")
    arrays = {name: _to_array(specs[name], tensor, max_rows, max_text_chars) for name, tensor in given.items()}
    if len({len(a) for a in arrays.values()}) > 1:
        raise InvalidInput("inputs disagree on the batch size (first dimension)")
    return arrays


def requested_outputs(card: ModelCard, request: InferRequest) -> list[TensorSpec]:
    if not request.outputs:
        return list(card.outputs)
    specs = {spec.name: spec for spec in card.outputs}
    names = [o.name for o in request.outputs]
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise InvalidInput(f"unknown output {_names(unknown)}; model {card.name!r} gives {sorted(specs)}")
    if len(set(names)) != len(names):
        raise InvalidInput("an output is requested more than once")
    return [specs[name] for name in names]


def check_finite(outputs: dict[str, np.ndarray]) -> None:
    """Inputs near the limits of their type (3.4e38 for FP32) are finite but can overflow inside the model: its
    answer would hold NaN or infinity, which JSON cannot carry. That request is refused; its batch-mates are not."""
    for name, array in outputs.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise InvalidInput(
                f"output {name!r} is not finite (NaN or infinity) for this input: "
                "its values are out of the range the model computes with"
            )


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


def predict_arrays(
    card: ModelCard, request: PredictRequest, max_rows: int | None = None, max_text_chars: int | None = None
) -> dict[str, np.ndarray]:
    """KServe v1: `instances` are rows of the model's single input."""
    spec = card.inputs[0]
    if max_rows is not None and len(request.instances) > max_rows:  # before the shape is worked out
        raise InvalidInput(
            f"{len(request.instances)} instances, over the limit of {max_rows} per request (--max-request-rows)"
        )
    try:
        shape = list(np.shape(np.asarray(request.instances, dtype=object)))
    except ValueError as exc:
        raise InvalidInput(f"instances are not a regular array ({exc})") from None
    tensor = RequestInput.model_construct(name=spec.name, shape=shape, datatype=spec.datatype, data=request.instances)
    return {spec.name: _to_array(spec, tensor, max_rows, max_text_chars)}
