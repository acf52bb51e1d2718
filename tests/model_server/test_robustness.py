"""A hostile client against the in-process app: every client-controlled value is checked, capped or refused.

Each test here reproduces a defect found by attacking a running server (issue 7, section 1)."""

import asyncio
import json
import re
import shutil
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from model_server.app import create_app
from model_server.config import Settings
from model_server.errors import error_response
from model_server.repository import RepositoryError, scan

ROW = ",".join(["0"] * 64)
JSON = {"content-type": "application/json"}
SURROGATE = "\\ud800"  # a lone UTF-16 surrogate, written as JSON allows it: no UTF-8 encoder can write it back


def digits_raw(input_fields: str = "", data: str = ROW, extra: str = "", shape: str = "[1,64]") -> str:
    tensor = f'{{"name":"input","shape":{shape},"datatype":"FP32","data":[{data}]{input_fields}}}'
    return f'{{"inputs":[{tensor}]{extra}}}'


def text_raw(value: str) -> str:
    return f'{{"inputs":[{{"name":"text","shape":[1],"datatype":"BYTES","data":[{value}]}}]}}'


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v2/models/digits/infer", digits_raw(extra=f',"id":"{SURROGATE}"')),
        ("/v2/models/digits/infer", digits_raw().replace('"FP32"', f'"{SURROGATE}"')),
        ("/v2/models/digits/infer", digits_raw().replace('"input"', f'"{SURROGATE}"')),
        ("/v2/models/digits/infer", digits_raw(extra=f',"outputs":[{{"name":"{SURROGATE}"}}]')),
        ("/v2/models/minilm/infer", text_raw(f'"{SURROGATE}"')),
        ("/v1/models/minilm:predict", f'{{"instances":["ok", "{SURROGATE}x"]}}'),
    ],
    ids=["id", "datatype", "input-name", "output-name", "v2-text", "v1-text"],
)
def test_strings_utf8_cannot_hold_get_400(client, path, raw):
    response = client.post(path, content=raw.encode(), headers=JSON)
    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        digits_raw(data=",".join(["1" + "0" * 400] * 64)),  # an integer no float can hold
        digits_raw(data=",".join(["1e999"] * 64)),  # JSON's "infinity"
        digits_raw(shape="[1e400,64]"),
        '{"inputs":' + "[" * 5000 + "]" * 5000 + "}",  # nesting deeper than the JSON parser's recursion limit
        digits_raw(data="[" * 100 + "0" + "]" * 100),
        digits_raw(extra=f',"parameters":{{"{SURROGATE}":"{SURROGATE}"}}'),
        '{"inputs":['
        + ",".join(f'{{"name":"n{i}","shape":[1],"datatype":"FP32","data":[0]}}' for i in range(800))
        + "]}",
        digits_raw(shape="[" + ",".join(["1"] * 5000) + "]"),
        digits_raw(shape="[" + ",".join(["9" * 4000] * 10) + "]"),  # dimensions too long to print in a message
        digits_raw().replace('"FP32"', '"' + "X" * 50_000 + '"'),
    ],
    ids=[
        "huge-int",
        "huge-float",
        "float-shape",
        "deep-json",
        "deep-data",
        "parameters",
        "many-inputs",
        "long-shape",
        "huge-dimensions",
        "long-datatype",
    ],
)
def test_hostile_bodies_never_get_500(client, raw):
    for path in ("/v2/models/digits/infer", "/v1/models/digits:predict"):
        body = raw if path.startswith("/v2") else raw.replace('"inputs"', '"instances"')
        response = client.post(path, content=body.encode(), headers=JSON)
        assert response.status_code < 500, response.text
        assert response.status_code == 200 or len(response.json()["error"]) < 1000  # errors stay short, too


@pytest.mark.parametrize(
    ("path", "raw", "fragment"),
    [
        ("/v2/models/digits/infer", digits_raw(data=",".join(['"0"'] * 64)), "values must be numbers, got string"),
        ("/v2/models/digits/infer", digits_raw(data=",".join(["true"] * 64)), "got boolean"),
        ("/v2/models/digits/infer", digits_raw(data=",".join(["true"] + ["1.5"] * 63)), "got boolean"),
        ("/v2/models/digits/infer", digits_raw(data=",".join(["null"] * 64)), "got null"),
        ("/v2/models/digits/infer", digits_raw(shape='["1","64"]'), "shape.0: Input should be a valid integer"),
        ("/v2/models/digits/infer", digits_raw(shape="[1.5,64]"), "shape.0: Input should be a valid integer"),
        ("/v2/models/digits/infer", digits_raw().replace("]}]}", "]}," + digits_raw()[11:]), "given more than once"),
        ("/v2/models/digits/infer", "", "request body is empty"),
        ("/v1/models/digits:predict", "", "request body is empty"),
        ("/v1/models/digits:predict", '{"instances":[[' + ",".join(['"0"'] * 64) + "]]}", "got string"),
        ("/v1/models/digits:predict", '{"instances":[[' + ",".join(["false"] * 64) + "]]}", "got boolean"),
        ("/v2/models/minilm/infer", text_raw("7"), "got integer"),
    ],
    ids=[
        "fp32-strings",
        "fp32-booleans",
        "fp32-boolean-among-numbers",
        "fp32-nulls",
        "shape-strings",
        "shape-floats",
        "duplicate-input",
        "v2-empty-body",
        "v1-empty-body",
        "v1-strings",
        "v1-booleans",
        "bytes-integer",
    ],
)
def test_datatypes_are_enforced_not_coerced(client, path, raw, fragment):
    response = client.post(path, content=raw.encode(), headers=JSON)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def _series(metrics_text: str) -> set[str]:
    return {line.rsplit(" ", 1)[0] for line in metrics_text.splitlines() if line and not line.startswith("#")}


def test_metric_labels_only_hold_known_models_and_versions(client):
    v2, v1 = digits_raw().encode(), b'{"instances":[[' + ROW.encode() + b"]]}"
    paths = [
        *(f"/v2/models/junk{n}/infer" for n in range(1000)),
        *(f"/v2/models/digits/versions/junk{n}/infer" for n in range(1000)),
        *(f"/v1/models/junk{n}:predict" for n in range(100)),
    ]

    async def post_all(chosen: list[str]) -> list[int]:  # straight into the app: 2,100 requests in about a second
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://app") as app:
            codes = []
            for start in range(0, len(chosen), 100):
                batch = chosen[start : start + 100]
                answers = await asyncio.gather(
                    *(app.post(p, content=v1 if p.startswith("/v1") else v2, headers=JSON) for p in batch)
                )
                codes += [answer.status_code for answer in answers]
            return codes

    asyncio.run(post_all(paths[:3] + paths[1000:1003] + paths[2000:2003]))  # the first of each kind adds series
    before = _series(client.get("/metrics").text)
    assert set(asyncio.run(post_all(paths))) == {404}
    added = _series(client.get("/metrics").text) - before
    assert not added, sorted(added)[:5]
    assert not [s for s in before if "junk" in s]


def test_request_histograms_carry_the_version_and_process_metrics_are_there(client):
    client.post("/v2/models/digits/versions/1/infer", content=digits_raw().encode(), headers=JSON)
    client.post("/v2/models/digits/versions/2/infer", content=digits_raw().encode(), headers=JSON)
    text = client.get("/metrics").text
    for histogram in ("request_duration_seconds", "queue_duration_seconds", "inference_duration_seconds", "batch_size"):
        for version in ("1", "2"):
            assert re.search(rf'model_server_{histogram}_count{{.*model="digits",version="{version}"}}', text), (
                histogram
            )
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "python_gc_collections_total"):
        assert re.search(rf"^{name}(\{{.*\}})? ", text, re.MULTILINE), name


def test_rows_and_text_length_are_capped(client):
    limit = Settings.model_fields["max_request_rows"].default
    over = client.post("/v2/models/digits/infer", json={"inputs": [_digits_tensor(limit + 1)]})
    assert over.status_code == 400 and "--max-request-rows" in over.json()["error"], over.text
    assert client.post("/v2/models/digits/infer", json={"inputs": [_digits_tensor(limit)]}).status_code == 200
    v1 = client.post("/v1/models/digits:predict", json={"instances": [[0] * 64] * (limit + 1)})
    assert v1.status_code == 400 and "--max-request-rows" in v1.json()["error"]

    chars = Settings.model_fields["max_text_chars"].default
    texts = {"name": "text", "shape": [2], "datatype": "BYTES", "data": ["short", "x" * (chars + 1)]}
    too_long = client.post("/v2/models/minilm/infer", json={"inputs": [texts]})
    assert too_long.status_code == 400 and "--max-text-chars" in too_long.json()["error"], too_long.text
    texts["data"] = ["short", "x" * chars]
    assert client.post("/v2/models/minilm/infer", json={"inputs": [texts]}).status_code == 200


def _digits_tensor(rows: int) -> dict:
    return {"name": "input", "shape": [rows, 64], "datatype": "FP32", "data": [0] * (64 * rows)}


def test_repository_folders_are_the_truth(models_dir, tmp_path):
    """The obvious "add a version" step (copy digits/2 to digits/3) and a copied model must serve as their folders."""
    shutil.copytree(models_dir / "digits", tmp_path / "digits")
    shutil.copytree(tmp_path / "digits" / "2", tmp_path / "digits" / "3")  # its card still says version 2
    shutil.copytree(tmp_path / "digits" / "1", tmp_path / "digits-copy" / "7")  # its card says digits version 1
    with TestClient(create_app(Settings(model_repository=tmp_path))) as client:
        deadline = time.monotonic() + 30
        while client.get("/v2/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the copied repository did not load"
            time.sleep(0.05)
        meta = client.get("/v2/models/digits/versions/3").json()
        assert meta["name"] == "digits" and meta["versions"] == ["1", "2", "3"]
        assert meta["parameters"]["version"] == "3"
        answer = client.post("/v2/models/digits/versions/3/infer", content=digits_raw().encode(), headers=JSON)
        assert answer.json()["model_version"] == "3"
        assert client.post("/v2/models/digits/infer", content=digits_raw().encode()).json()["model_version"] == "3"
        assert client.get("/v2/models/digits/versions/1").json()["parameters"]["version"] == "1"  # not replaced
        copy = client.post("/v2/models/digits-copy/infer", content=digits_raw().encode(), headers=JSON).json()
        assert (copy["model_name"], copy["model_version"]) == ("digits-copy", "7")
        assert 'model_server_model_ready{model="digits",version="3"} 1.0' in client.get("/metrics").text


def test_openapi_declares_the_real_error_answers(client):
    schema = client.get("/openapi.json").json()
    infer = schema["paths"]["/v2/models/{name}/infer"]["post"]["responses"]
    for code in ("400", "404", "413", "415", "503", "504"):
        ref = infer[code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody"), (code, ref)
    assert "422" not in infer  # nothing answers 422 any more
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert "404" in schema["paths"]["/v1/models/{name}:predict"]["post"]["responses"]
    assert "503" in schema["paths"]["/v2/health/ready"]["get"]["responses"]
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_docs_render_from_the_package_without_network(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert assets and not [a for a in assets if "//" in a], assets  # nothing from a CDN or any other host
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_head_on_health_endpoints(client, path):
    response = client.head(path)
    assert response.status_code == 200 and response.content == b""


def test_error_messages_quoting_client_text_stay_valid_json():
    """Defence in depth: should a message ever quote a string UTF-8 cannot hold, it is escaped, not a 500."""
    assert json.loads(error_response(400, "input '\ud800' is unknown").body) == {"error": "input '\\ud800' is unknown"}


def test_unknown_model_lists_what_is_available(models_dir):
    with pytest.raises(RepositoryError, match=r"model\(s\) nope not found .*available: digits, digits-large, minilm"):
        scan(models_dir, ["nope"])
