"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): body size limit, requests in flight, per-model metrics."""

import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_server.errors import error_response
from model_server.metrics import Metrics

# /v2/models/{m}[/versions/{v}]/infer and /v1/models/{m}:predict
INFER_PATH = re.compile(
    r"^/v2/models/(?P<m>[^/]+)(?:/versions/(?P<v>[^/]+))?/infer$|^/v1/models/(?P<m1>[^/:]+):predict$"
)


UNKNOWN = "_unknown"  # the label value for a model or version that is not in the repository


class ServingMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, model_versions: dict[str, set[str]]
    ) -> None:
        self.app = app
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

        match = INFER_PATH.match(scope["path"])
        if match is None:
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
            model, version = self._labels(match, scope.get("state", {}).get("model_version"))
            self.metrics.requests.labels(model, version, str(status)).inc()
            self.metrics.request_duration.labels(model, version).observe(time.perf_counter() - started)

    def _labels(self, match: re.Match, served_version: str | None) -> tuple[str, str]:
        """Label values from the repository only, whatever the path holds: one series per real model version."""
        versions = self.model_versions.get(match["m"] or match["m1"])
        if versions is None:
            return UNKNOWN, UNKNOWN
        version = served_version or match["v"]  # the handler sets the served version once it resolves one
        return match["m"] or match["m1"], version if version in versions else UNKNOWN
