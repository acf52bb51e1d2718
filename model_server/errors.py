"""Domain errors and the handlers that turn them, and framework errors, into `{"error": "..."}` responses."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from model_server.responses import JSONResponse

log = logging.getLogger(__name__)


class ServerError(Exception):
    status_code = 500
    headers: dict[str, str] | None = None


class InvalidInput(ServerError):
    status_code = 400


class ModelNotFound(ServerError):
    status_code = 404


class PayloadTooLarge(ServerError):
    status_code = 413


class NotReady(ServerError):
    status_code = 503
    headers = {"Retry-After": "1"}


class QueueFull(ServerError):
    status_code = 503
    headers = {"Retry-After": "1"}


class InferenceTimeout(ServerError):
    status_code = 504


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


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
        return error_response(422, "; ".join(_describe(e) for e in errors[:5]))

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, f"internal error: {type(exc).__name__}")
