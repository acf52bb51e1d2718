"""KServe v1 prediction: `{"instances": [...]}` in, `{"predictions": [...]}` out (the model's first output)."""

from fastapi import APIRouter, Request

from model_server.errors import error_responses
from model_server.lean_route import LeanRoute
from model_server.protocol import PredictRequest, PredictResponse, check_finite, predict_arrays
from model_server.responses import JSONResponse
from model_server.state import state_of

router = APIRouter(prefix="/v1", tags=["v1"], default_response_class=JSONResponse)


async def predict(request: Request, body: PredictRequest, name: str) -> JSONResponse:
    state = state_of(request)
    model, batcher = state.serving(name, None)
    request.state.model_version = model.version
    s = state.settings
    inputs = predict_arrays(model.card, body, s.max_request_rows, s.max_text_chars)
    outputs = await batcher.infer(inputs, s.request_timeout_s)
    check_finite(outputs)
    return JSONResponse({"predictions": outputs[model.card.outputs[0].name]})


# The hot path: served without per-request dependency solving (model_server.lean_route).
router.add_api_route(
    "/models/{name}:predict",
    predict,
    methods=["POST"],
    response_model=PredictResponse,
    responses=error_responses(400, 404, 408, 413, 415, 503, 504),
    route_class_override=LeanRoute,
)
