"""The FastAPI application factory: models load in the lifespan, routes serve v2, v1 and metrics."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from model_server import __version__, api_v1, api_v2
from model_server.config import Settings, get_settings
from model_server.errors import register_handlers
from model_server.middleware import ServingMiddleware
from model_server.state import ServerState


def create_app(settings: Settings | None = None) -> FastAPI:
    state = ServerState(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(state.start())  # readiness stays 503 until this finishes
        yield
        loading.cancel()
        await state.stop()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from files in the package, not from a CDN.
    app = FastAPIOffline(
        title="AI Hosting Labs model server",
        version=__version__,
        summary="Open Inference Protocol v2 and KServe v1 over onnxruntime, with dynamic batching.",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        strict_content_type=False,  # curl, load generators and scripts often omit Content-Type; JSON is the only format
    )
    app.state.server = state
    app.include_router(api_v2.router)
    app.include_router(api_v1.router)

    @app.get("/metrics", tags=["metrics"], response_class=PlainTextResponse)  # Prometheus text format
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    register_handlers(app)
    # Our own body limit rather than FastAPI's max_body_size: that one answers 413 outside the `{"error"}` contract.
    app.add_middleware(
        ServingMiddleware,
        metrics=state.metrics,
        max_body_bytes=state.settings.max_body_bytes,
        model_versions={name: set(versions) for name, versions in state.cards.items()},
        infer_routes=[
            route  # the routers' own routes (full paths): app.routes holds the included routers, not their routes
            for route in (*api_v2.router.routes, *api_v1.router.routes)
            if getattr(route, "endpoint", None) in (api_v2.infer, api_v1.predict)
        ],
    )
    return app
