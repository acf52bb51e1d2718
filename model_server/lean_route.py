"""The inference routes' route class: FastAPI's routing, OpenAPI schema and error handlers, without its
per-request dependency solving.

At saturation, FastAPI's dependency solving and request handler were the largest cost of a request after
inference (issue 15: `make cpu-breakdown`, loadtest/README.md). An inference endpoint takes only the request, one
JSON body (a pydantic model), path parameters (strings) and optional string query parameters, so this route reads
them itself, once, and calls the endpoint. The schema is still made from the endpoint's signature, and a body that
is not an accepted request raises what FastAPI raises (RequestValidationError, HTTPException), so the same
handlers give the same answers.
"""

import email.message
import functools
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response


@functools.lru_cache(maxsize=64)  # clients send the same few values; parsing one costs more than the JSON decode
def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule (strict_content_type off): no Content-Type, application/json or application/*+json."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The body as `model`, checked as FastAPI checks a body parameter (errors located under "body")."""
    try:
        raw = await request.body()
        value = json.loads(raw) if raw and _is_json(request.headers.get("content-type")) else raw
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}]) from exc
    except HTTPException:  # the body limit (413) and the body timeout (408) answer as they are
        raise
    except Exception as exc:  # bytes that are not text in any JSON encoding, a client that went away
        raise HTTPException(400, "There was an error parsing the body") from exc
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return model.model_validate(value, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


class LeanRoute(APIRoute):
    """For endpoints shaped `(request, body, **path and query parameters)`: no dependencies, one model body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        bodies = self.dependant.body_params
        model = bodies[0].field_info.annotation if len(bodies) == 1 else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{self.path}: a LeanRoute endpoint takes one body, a pydantic model")
        queries = [param.name for param in self.dependant.query_params]
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            parsed = await read_body(request, model)
            query = {name: request.query_params.get(name) for name in queries} if request.scope["query_string"] else {}
            return await endpoint(request, parsed, **request.path_params, **query)

        return handle
