"""The baseline for `make bench-server`: the model server people write first.

One request, one `session.run`: FastAPI runs each sync request in its thread pool and calls the model
directly, with no queue and no batching. Validation, tokenization and pooling are the model server's own,
so the benchmark compares only the serving strategy.

    python -m loadtest.studies.naive_server --model-repository models --model minilm --port 8001
"""

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from model_server.protocol import InferRequest, infer_response, request_arrays, requested_outputs
from model_server.repository import default_version, scan
from model_server.responses import JSONResponse
from model_server.runtime import build_model, session_options


def create_app(model_repository, model_name: str, threads: int) -> FastAPI:
    versions = scan(Path(model_repository), [model_name])[model_name]
    card = versions[default_version(versions)]
    model = build_model(card, session_options(threads, 1, "all"))
    model.load()
    app = FastAPI(title="naive baseline", default_response_class=JSONResponse)

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.get("/v2/models/{name}")
    def metadata(name: str) -> dict:
        return {"name": card.name, "versions": [card.version]}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: InferRequest) -> JSONResponse:
        outputs = model.predict(request_arrays(card, body))
        return JSONResponse(infer_response(card, outputs, requested_outputs(card, body), body.id))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.studies.naive_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-repository", default="models")
    parser.add_argument("--model", required=True, help="model name; its highest version is served")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()
    app = create_app(args.model_repository, args.model, args.threads)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
