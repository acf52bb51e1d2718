"""LeanRoute answers every request exactly as FastAPI's own route does: same status, same body.

One endpoint, registered twice on one app (the server's error handlers): once as a plain APIRoute, once as a
LeanRoute. Every body, Content-Type and query a client controls goes to both.
"""

import json

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, StrictInt

from model_server.errors import register_handlers
from model_server.lean_route import LeanRoute
from model_server.protocol import Utf8Str
from model_server.responses import JSONResponse


class Body(BaseModel):
    id: Utf8Str | None = None
    rows: list[StrictInt] = Field(min_length=1)


async def endpoint(request: Request, body: Body, name: str, version: str | None = None) -> JSONResponse:
    return JSONResponse({"name": name, "version": version, "id": body.id, "rows": len(body.rows)})


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI(strict_content_type=False)  # as the server's app, with its routers and handlers
    for prefix, route_class in (("/fastapi", None), ("/lean", LeanRoute)):
        router = APIRouter(prefix=prefix)
        for path in ("/m/{name}/infer", "/m/{name}/versions/{version}/infer"):
            router.add_api_route(path, endpoint, methods=["POST"], route_class_override=route_class)
        app.include_router(router)
    register_handlers(app)
    return TestClient(app, raise_server_exceptions=False)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


BODIES: dict[str, bytes] = {
    "valid": b'{"id": "a", "rows": [1, 2]}',
    "empty": b"",
    "whitespace": b"  \n",
    "not json": b"{rows: [1]}",
    "truncated": b'{"rows": [1',
    "NaN literal": b'{"rows": [NaN]}',
    "null": b"null",
    "a list": b"[1, 2]",
    "a string": b'"rows"',
    "missing field": b'{"id": "a"}',
    "wrong type": b'{"rows": ["1"]}',
    "a float": b'{"rows": [1.5]}',
    "a boolean": b'{"rows": [true]}',
    "too short": b'{"rows": []}',
    "lone surrogate": b'{"id": "\\ud800", "rows": [1]}',
    "invalid UTF-8": b'{"id": "\xff\xfe", "rows": [1]}',
    "UTF-16": '{"rows": [1]}'.encode("utf-16"),
    "nested 100,000 deep": deep(100_000),
    "extra field": b'{"rows": [1], "other": {"x": 1}}',
    "duplicate keys": b'{"rows": [1], "rows": [2]}',
    "big integer": json.dumps({"rows": [10**400]}).encode(),
}
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "APPLICATION/JSON",
    "text/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "json",
    "",
    ";;;",
]


def answer(client: TestClient, url: str, body: bytes, content_type: str | None) -> tuple[int, object]:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post(url, content=body, headers=headers)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


@pytest.mark.parametrize("content_type", CONTENT_TYPES, ids=repr)
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_the_same_answer_for_every_body_and_content_type(client: TestClient, body: bytes, content_type: str | None):
    expected = answer(client, "/fastapi/m/x/infer", body, content_type)
    got = answer(client, "/lean/m/x/infer", body, content_type)
    assert got == expected
    assert got[0] != 500, got


@pytest.mark.parametrize(
    "path",
    [
        "/m/x/infer",
        "/m/x/infer?version=2",
        "/m/x/infer?version=2&version=3",
        "/m/x/infer?version=",
        "/m/x/infer?other=1",
        "/m/x/infer?version=%FF%FE",
        "/m/x/versions/7/infer",
        "/m/x/versions/7/infer?version=2",
        "/m/%C3%A9t%C3%A9/versions/%20/infer",
    ],
)
def test_the_same_path_and_query_parameters(client: TestClient, path: str):
    body = BODIES["valid"]
    expected = answer(client, "/fastapi" + path, body, "application/json")
    got = answer(client, "/lean" + path, body, "application/json")
    assert expected[0] == 200
    assert got == expected


def test_a_route_without_one_model_body_is_refused_when_registered():
    async def no_body(request: Request, name: str) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(TypeError, match="one body, a pydantic model"):
        APIRouter().add_api_route("/m/{name}", no_body, methods=["POST"], route_class_override=LeanRoute)
