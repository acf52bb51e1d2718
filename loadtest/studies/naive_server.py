"""The baseline for `make bench-server`: the model server people write first.

One request, one `session.run`: FastAPI runs each sync request in its thread pool and calls the model
directly, with no queue and no batching. Validation, tokenization and pooling are the model server's own,
so the benchmark compares only the serving strategy.

    python -m loadtest.studies.naive_server --model-repository models --model minilm --port 8001
"""

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from loadtest.options import typer_app
from model_server.protocol import InferRequest, infer_response, request_arrays, requested_outputs
from model_server.repository import RepositoryError, default_version, scan
from model_server.responses import JSONResponse
from model_server.runtime import build_model, session_options


def create_app(model_repository: Path, model_name: str, threads: int) -> FastAPI:
    versions = scan(model_repository, [model_name])[model_name]
    card = versions[default_version(versions)]
    model = build_model(card, session_options(threads, 1, "all"))
    model.load()
    app = FastAPI(title="naive baseline", default_response_class=JSONResponse)

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.get("/v2/models/{name}")
    def metadata(name: str) -> dict:
        return {
            "name": card.name,
            "versions": [card.version],
            "inputs": [spec.as_dict() for spec in card.inputs],
            "outputs": [spec.as_dict() for spec in card.outputs],
        }

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: InferRequest) -> JSONResponse:
        outputs = model.predict(request_arrays(card, body))
        return JSONResponse(infer_response(card, outputs, requested_outputs(card, body), body.id))

    return app


def main(
    model: Annotated[str, typer.Option(help="Model name; its highest version is served")],
    model_repository: Annotated[Path, typer.Option(help="Model repository built by `make models`")] = Path("models"),
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port")] = 8001,
    threads: Annotated[int, typer.Option(min=1, max=256, help="onnxruntime intra-op threads")] = 1,
) -> None:
    """Serve one model the naive way (no queue, no batching): the benchmark's baseline."""
    try:
        app = create_app(model_repository, model, threads)
    except RepositoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    cli = typer_app()
    cli.command()(main)
    cli()
