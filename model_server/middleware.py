"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): body size limit, requests in flight, per-model metrics."""

import time
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_server.errors import error_response
from model_server.metrics import Metrics

UNKNOWN = "_unknown"  # the label value for a model or version that is not in the repository


class ServingMiddleware:
    """`infer_routes`: the routes whose requests are counted in flight and labelled by model and version."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        model_versions: dict[str, set[str]],
        infer_routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.infer_routes = infer_routes
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.model_versions = model_versions  # what labels may hold: the repository's names and versions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_body_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await error_response(413, f"request body over the {limit}-byte limit")(scope, receive, send)

        received = 0

        async def limited_receive() -> Message:  # bodies without Content-Length (chunked) are counted as they come
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"request body over the {limit}-byte limit")
            return message

        params = self._infer_params(scope)
        if params is None:
            return await self.app(scope, limited_receive, send)

        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, limited_receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            model, version = self._labels(params, scope.get("state", {}).get("model_version"))
            self.metrics.requests.labels(model, version, str(status)).inc()
            self.metrics.request_duration.labels(model, version).observe(time.perf_counter() - started)

    def _infer_params(self, scope: Scope) -> dict[str, Any] | None:
        """The path parameters of the inference route this request's path matches (any method: a 405 counts too),
        or None for every other path; the router's own matching, before the router runs."""
        for route in self.infer_routes:
            match, child = route.matches(scope)
            if match is not Match.NONE:
                return child.get("path_params", {})
        return None

    def _labels(self, params: dict[str, Any], served_version: str | None) -> tuple[str, str]:
        """Label values from the repository only, whatever the path holds: one series per real model version."""
        versions = self.model_versions.get(params["name"])
        if versions is None:
            return UNKNOWN, UNKNOWN
        version = served_version or params.get("version")  # the handler sets the served version once it resolves one
        return params["name"], version if version in versions else UNKNOWN
