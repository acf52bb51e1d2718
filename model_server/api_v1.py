"""KServe v1 prediction: `{"instances": [...]}` in, `{"predictions": [...]}` out (the model's first output)."""

from fastapi import APIRouter, Request

from model_server.protocol import PredictRequest, predict_arrays
from model_server.responses import JSONResponse
from model_server.state import StateDep

router = APIRouter(prefix="/v1", tags=["v1"], default_response_class=JSONResponse)


@router.post("/models/{name}:predict")
async def predict(state: StateDep, request: Request, body: PredictRequest, name: str) -> JSONResponse:
    model, batcher = state.serving(name, None)
    request.state.model_version = model.version
    outputs = await batcher.infer(predict_arrays(model.card, body), state.settings.request_timeout_s)
    return JSONResponse({"predictions": outputs[model.card.outputs[0].name]})
