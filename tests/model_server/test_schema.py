"""The OpenAPI schema says exactly what the server accepts and answers (issue 18, part 5): schemathesis with
every check against a real server, and the cases it found, kept as plain tests."""

import re
import subprocess
import sys

import pytest

FP32_MAX = 3.4028234e38
JSON = {"Content-Type": "application/json"}


def digits_body(value: float) -> dict:
    return {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [value] * 64}]}


@pytest.mark.parametrize("value", [FP32_MAX, -FP32_MAX, 3e38])
def test_finite_inputs_that_overflow_the_model_get_400_not_null(client, value):
    v2 = client.post("/v2/models/digits/infer", json=digits_body(value))
    v1 = client.post("/v1/models/digits:predict", json={"instances": [[value] * 64]})
    for response in (v2, v1):
        assert response.status_code == 400, response.text
        assert "not finite" in response.json()["error"]
    assert client.post("/v2/models/digits/infer", json=digits_body(16.0)).status_code == 200


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_options_and_unrouted_methods_list_every_method_of_the_path(client, path):
    options = client.options(path)
    assert options.status_code == 204 and options.headers["allow"] == "GET, HEAD, OPTIONS"
    put = client.put(path)
    assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD, OPTIONS", put.headers
    assert "PUT is not allowed" in put.json()["error"]
    assert client.options("/v2/models/digits/infer").headers["allow"] == "POST, OPTIONS"


def test_a_shape_is_a_json_integer_whatever_its_spelling(client):
    body = digits_body(1.0)
    body["inputs"][0]["shape"] = [1.0, 64.0]  # the same JSON number as [1, 64], as the schema's "integer" says
    assert client.post("/v2/models/digits/infer", json=body).status_code == 200
    body["inputs"][0]["shape"] = [1.5, 64]
    assert client.post("/v2/models/digits/infer", json=body).status_code == 400


def test_the_schema_declares_datatypes_and_real_answers(client):
    schema = client.get("/openapi.json").json()
    parts = schema["components"]["schemas"]
    assert parts["RequestInput"]["properties"]["datatype"]["enum"] == ["FP32", "FP64", "INT64", "INT32", "BYTES"]
    assert parts["RequestInput"]["properties"]["shape"]["items"] == {
        "maximum": 2**40,
        "minimum": 0,
        "type": "integer",
    }
    answer = schema["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/InferResponse"}
    assert set(parts["InferResponse"]["required"]) == {"model_name", "model_version", "outputs"}


@pytest.mark.slow
def test_schemathesis_with_every_check_finds_nothing(start_server, tmp_path):
    """Every phase (examples, coverage, fuzzing, stateful) and every check, status-code and response-schema
    conformance included; bounded: at most 25 generated cases per operation and phase, a fixed seed."""
    server = start_server("--models", "digits")
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json", "--checks", "all"]
    bounds = ["--max-examples", "25", "--seed", "18", "--workers", "1", "--request-timeout", "10"]
    quiet = ["--generation-database", "none", "--suppress-health-check", "all", "--no-color"]
    run = subprocess.run(
        [*command, *bounds, *quiet],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    cases = re.search(r"(\d+) generated, (\d+) found|(\d+) generated, (\d+) passed", run.stdout)
    print(f"schemathesis: {cases[0] if cases else 'no count'}")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
