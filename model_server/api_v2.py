"""Open Inference Protocol v2 over REST: health, metadata, readiness, infer."""

from fastapi import APIRouter, Request, Response

from model_server import __version__
from model_server.errors import NotReady, error_responses
from model_server.lean_route import LeanRoute
from model_server.protocol import (
    InferRequest,
    InferResponse,
    Live,
    ModelMetadata,
    ModelReady,
    Ready,
    ServerMetadata,
    check_finite,
    infer_response,
    request_arrays,
    requested_outputs,
)
from model_server.responses import JSONResponse
from model_server.state import StateDep, state_of

router = APIRouter(prefix="/v2", tags=["v2"], default_response_class=JSONResponse)


INFER_ERRORS = error_responses(400, 404, 408, 413, 415, 503, 504)


async def infer(request: Request, body: InferRequest, name: str, version: str | None = None) -> JSONResponse:
    state = state_of(request)
    model, batcher = state.serving(name, version)
    request.state.model_version = model.version  # for the request metrics' version label
    inputs = request_arrays(model.card, body, state.settings.max_request_rows, state.settings.max_text_chars)
    wanted = requested_outputs(model.card, body)
    outputs = await batcher.infer(inputs, state.settings.request_timeout_s)
    check_finite(outputs)
    return JSONResponse(infer_response(model.card, outputs, wanted, body.id))


# The hot path: served without per-request dependency solving (model_server.lean_route), and registered first, so
# that the router matches it first.
for path in ("/models/{name}/infer", "/models/{name}/versions/{version}/infer"):
    router.add_api_route(
        path,
        infer,
        methods=["POST"],
        response_model=InferResponse,
        responses=INFER_ERRORS,
        route_class_override=LeanRoute,
    )


# HEAD answers too: load balancers and `curl -I` probe with it. (A separate route keeps operation ids unique.)
@router.get("/health/live", response_model=Live)
@router.head("/health/live", name="live_head", response_model=Live)
async def live() -> dict:
    return {"live": True}


@router.get("/health/ready", response_model=Ready, responses=error_responses(503))
@router.head("/health/ready", name="ready_head", response_model=Ready, responses=error_responses(503))
async def ready(state: StateDep) -> dict:
    if not state.ready:
        raise NotReady(state.load_error or ("server is draining" if state.draining else "models are loading"))
    return {"ready": True}


@router.get("", response_model=ServerMetadata)
async def server_metadata() -> dict:
    return {"name": "model_server", "version": __version__, "extensions": []}


# Each model route also answers under /versions/{version}; without one, the model's default version serves
# (--default-versions, else the highest).
# (On the unversioned path, `version` shows in the OpenAPI schema as an optional query parameter.)


@router.get("/models/{name}", response_model=ModelMetadata, responses=error_responses(404))
@router.get("/models/{name}/versions/{version}", response_model=ModelMetadata, responses=error_responses(404))
async def model_metadata(state: StateDep, name: str, version: str | None = None) -> dict:
    card = state.card(name, version)
    return {
        "name": card.name,
        "versions": sorted(state.cards[card.name]),
        "platform": "onnxruntime_onnx",
        "inputs": [spec.as_dict() for spec in card.inputs],
        "outputs": [spec.as_dict() for spec in card.outputs],
        "parameters": {"version": card.version, "task": card.task, "metrics": card.raw.get("metrics", {})},
    }


MODEL_READY_ANSWERS = {
    **error_responses(404),
    503: {"model": ModelReady, "description": "Not ready: the same body, with ready false"},
}


@router.get("/models/{name}/ready", response_model=ModelReady, responses=MODEL_READY_ANSWERS)
@router.get("/models/{name}/versions/{version}/ready", response_model=ModelReady, responses=MODEL_READY_ANSWERS)
async def model_ready(state: StateDep, name: str, version: str | None = None) -> Response:
    card = state.card(name, version)
    is_ready = state.models[card.name, card.version].ready and not state.draining
    return JSONResponse(
        {"name": card.name, "version": card.version, "ready": is_ready}, status_code=200 if is_ready else 503
    )
