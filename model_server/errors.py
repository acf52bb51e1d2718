"""Domain errors and the handlers that turn them, and framework errors, into `{"error": "..."}` responses."""

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from model_server.responses import JSONResponse

log = logging.getLogger(__name__)


class ServerError(Exception):
    status_code = 500
    headers: ClassVar[dict[str, str] | None] = None


class InvalidInput(ServerError):
    status_code = 400


class ModelNotFound(ServerError):
    status_code = 404


class NotReady(ServerError):
    status_code = 503
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class QueueFull(ServerError):
    status_code = 503
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class InferenceTimeout(ServerError):
    status_code = 504


class ErrorBody(BaseModel):
    """Every error answer: one message that names the problem."""

    error: str


ERROR_MEANINGS = {
    400: "Bad request: not JSON, an empty body, wrong shape, datatype, value type, name, or over a limit",
    404: "Unknown model or version",
    408: "The request body did not arrive within --body-timeout-s",
    413: "Body over --max-body-bytes",
    415: "Content-Type is not JSON",
    503: "Not ready (loading or draining) or the model's queue is full; see Retry-After",
    504: "Queue and inference took longer than --request-timeout-s",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these status codes; "default" (any other error, such as a 500) replaces 422."""
    declared: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": ERROR_MEANINGS[code]} for code in codes
    }
    declared["default"] = {"model": ErrorBody, "description": "Any other error, such as an internal error (500)"}
    return declared


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # A message can quote client input; a lone surrogate in it would make the JSON encoder fail with a 500.
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": safe}, status_code=status_code, headers=headers)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _method_not_allowed(request: Request) -> Response:
    """OPTIONS gets 204 and every other unrouted method 405, both with `Allow` listing every method the path
    has. (Starlette lists only the first route's: a GET and a HEAD route on one path said `Allow: HEAD`.)"""
    routes = request.app.router.routes
    methods = [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    allow = {"Allow": ", ".join([*methods, "OPTIONS"])}
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=allow)
    return error_response(405, f"method {request.method} is not allowed here (allowed: {allow['Allow']})", allow)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error['msg']}" if where else error["msg"]


def register_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServerError)
    async def _server_error(_: Request, exc: ServerError) -> JSONResponse:
        return error_response(exc.status_code, str(exc), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "application/json")
        if "json" not in content_type:
            return error_response(415, f"Content-Type must be application/json, got {content_type!r}")
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "request body is not valid JSON")
        if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
            return error_response(400, "request body is empty")
        # A well-formed JSON body that is not an inference request is a bad request too (KServe and Triton: 400).
        return error_response(400, "; ".join(_describe(e) for e in errors[:5]))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            return _method_not_allowed(request)
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, f"internal error: {type(exc).__name__}")
