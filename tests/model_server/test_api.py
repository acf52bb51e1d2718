"""Every endpoint and every bad-input case, through FastAPI's TestClient on the real model repository."""

import json

import numpy as np
import pytest

from loadtest.payloads import digits_v2_body, text_v2_body

DIGIT_ROW = [0.0] * 64


def test_health_and_server_metadata(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2").json()
    assert meta["name"] == "model_server" and "version" in meta and meta["extensions"] == []


@pytest.mark.parametrize("path", ["/v2/models/digits", "/v2/models/digits/versions/1"])
def test_model_metadata(client, path):
    meta = client.get(path).json()
    assert meta["name"] == "digits" and meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["parameters"]["version"] == ("1" if path.endswith("/1") else "2")  # default: highest version
    assert meta["parameters"]["metrics"]["accuracy"] > 0.9


@pytest.mark.parametrize("path", ["/v2/models/minilm/ready", "/v2/models/digits/versions/1/ready"])
def test_model_ready(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.json()["ready"] is True


@pytest.mark.parametrize("path", ["/v2/models/digits/infer", "/v2/models/digits/versions/1/infer"])
def test_digits_infer_matches_labels(client, digits_rows, path):
    x, y = digits_rows
    body = digits_v2_body(x[:20].tolist())
    body["id"] = "req-7"
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["model_name"] == "digits" and out["id"] == "req-7"
    assert out["model_version"] == ("1" if "/versions/1/" in path else "2")
    label, probs = out["outputs"]
    assert label["name"] == "label" and label["shape"] == [20] and label["datatype"] == "INT64"
    assert probs["shape"] == [20, 10] and len(probs["data"]) == 200
    assert (np.array(label["data"]) == y[:20]).mean() >= 0.9
    assert np.allclose(np.array(probs["data"]).reshape(20, 10).sum(axis=1), 1, atol=1e-4)


def test_nested_data_and_requested_outputs(client, digits_rows):
    x, _ = digits_rows
    body = {
        "inputs": [{"name": "input", "shape": [2, 64], "datatype": "FP32", "data": x[:2].tolist()}],
        "outputs": [{"name": "label"}],
    }
    out = client.post("/v2/models/digits/infer", json=body).json()
    assert [o["name"] for o in out["outputs"]] == ["label"]


def test_minilm_embeddings_are_unit_vectors(client):
    texts = ["How do I reset my password?", "a", "The autoscaler added two replicas when CPU crossed the target."]
    out = client.post("/v2/models/minilm/infer", json=text_v2_body(texts)).json()
    (embedding,) = out["outputs"]
    assert embedding["shape"] == [3, 384] and embedding["datatype"] == "FP32"
    vectors = np.array(embedding["data"]).reshape(3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_minilm_padding_does_not_change_embeddings(client):
    """Pad-to-longest must give the same vector for a text alone as in a batch with a much longer text."""
    short, long_text = "hello world", " ".join(["the server scaled out under load"] * 10)
    alone = client.post("/v2/models/minilm/infer", json=text_v2_body([short])).json()["outputs"][0]["data"]
    batched = client.post("/v2/models/minilm/infer", json=text_v2_body([short, long_text])).json()["outputs"][0]["data"]
    assert np.allclose(alone, batched[:384], atol=1e-4)


def test_v1_predict(client, digits_rows):
    x, y = digits_rows
    out = client.post("/v1/models/digits:predict", json={"instances": x[:5].tolist()}).json()
    assert out["predictions"] == y[:5].tolist()
    texts = client.post("/v1/models/minilm:predict", json={"instances": ["one text", "another"]}).json()
    assert np.array(texts["predictions"]).shape == (2, 384)


def test_metrics_endpoint_counts_requests(client):
    client.post("/v2/models/digits/infer", json=digits_v2_body([DIGIT_ROW]))
    text = client.get("/metrics").text
    for name in (
        "model_server_requests_total",
        "model_server_request_duration_seconds_bucket",
        "model_server_queue_duration_seconds_bucket",
        "model_server_inference_duration_seconds_bucket",
        "model_server_batch_size_bucket",
        "model_server_requests_in_flight",
        "model_server_model_ready",
    ):
        assert name in text
    assert 'model_server_requests_total{code="200",model="digits",version="2"}' in text
    assert 'model_server_model_ready{model="minilm",version="1"} 1.0' in text


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v2/models/{name}/infer" in paths and "/v1/models/{name}:predict" in paths


def _bad(row_count=1, **override):
    tensor = {"name": "input", "shape": [row_count, 64], "datatype": "FP32", "data": DIGIT_ROW * row_count}
    return {"inputs": [{**tensor, **override}]}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (_bad(shape=[1, 63]), 400, "shape [1, 63]"),
        (_bad(shape=[64]), 400, "shape [64]"),
        (_bad(shape=[0, 64], data=[]), 400, "batch dimension"),
        (_bad(data=DIGIT_ROW[:10]), 400, "10 values do not fill shape [1, 64]"),
        (_bad(datatype="INT64"), 400, "datatype 'INT64', the model expects FP32"),
        (_bad(name="pixels"), 400, "unknown input 'pixels'"),
        (_bad(data=["x"] * 64), 400, "not a regular array of FP32"),
        (_bad(data=[[1.0, 2.0], [3.0]]), 400, "not a regular array"),
        ({"inputs": []}, 400, "inputs"),
        ({"inputs": [{"name": "input"}]}, 400, "shape"),
        ({"instances": [1]}, 400, "inputs"),
        ({**_bad(), "outputs": [{"name": "logits"}]}, 400, "unknown output 'logits'"),
    ],
)
def test_bad_digits_input(client, body, status, fragment):
    response = client.post("/v2/models/digits/infer", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_nan_and_infinity_rejected(client):
    for bad in ("NaN", "Infinity"):
        data = ",".join(["0"] * 63 + [bad])
        raw = '{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[' + data + "]}]}"
        response = client.post("/v2/models/digits/infer", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 400 and "NaN or infinity" in response.json()["error"]


def test_text_model_wants_strings(client):
    body = {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["ok", 3]}]}
    response = client.post("/v2/models/minilm/infer", json=body)
    assert response.status_code == 400 and "must be strings" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/v2/models/resnet/infer", "model 'resnet' not found"),
        ("/v2/models/digits/versions/9/infer", "has no version '9'"),
        ("/v1/models/resnet:predict", "model 'resnet' not found"),
    ],
)
def test_unknown_model_or_version(client, path, fragment):
    body = {"instances": [DIGIT_ROW]} if path.startswith("/v1") else _bad()
    response = client.post(path, json=body)
    assert response.status_code == 404 and fragment in response.json()["error"]


def test_unknown_model_metadata_and_readiness(client):
    assert client.get("/v2/models/resnet").status_code == 404
    assert client.get("/v2/models/digits/versions/9/ready").status_code == 404
    assert client.get("/no/such/route").json() == {"error": "Not Found"}


def test_body_over_limit_is_413(client):
    big = _bad(row_count=400)  # ~128 KB of JSON against the fixture's 64 KiB limit
    response = client.post("/v2/models/digits/infer", json=big)
    assert response.status_code == 413 and "byte limit" in response.json()["error"]


def test_chunked_body_over_limit_is_413(client):
    chunks = (b" " * 8192 for _ in range(10))  # no Content-Length: counted while read
    response = client.post("/v2/models/digits/infer", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_non_json_body(client):
    response = client.post("/v2/models/digits/infer", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": "request body is not valid JSON"}
    response = client.post(
        "/v2/models/digits/infer", content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_json_without_content_type_is_accepted(client):
    response = client.post("/v2/models/digits/infer", content=json.dumps(_bad()).encode())
    assert response.status_code == 200


def test_errors_are_never_500(client):
    codes = {
        client.post("/v2/models/digits/infer", content=body, headers={"content-type": "application/json"}).status_code
        for body in (b"", b"[]", b"null", b'{"inputs": null}', b'{"inputs": [{"name": 1}]}', b"\xff\xfe")
    }
    assert codes and all(400 <= code < 500 for code in codes), codes


def test_minilm_large_batch_keeps_order(client):
    """Texts are run in length-sorted slices; each must still get its own embedding, in request order."""
    texts = [" ".join(["word"] * n) + f" number {n}" for n in (30, 1, 12, 5, 40, 2, 9, 22, 3, 17, 7, 28)]
    batched = np.array(client.post("/v2/models/minilm/infer", json=text_v2_body(texts)).json()["outputs"][0]["data"])
    for i in (0, 1, 4, 11):
        alone = client.post("/v2/models/minilm/infer", json=text_v2_body([texts[i]])).json()["outputs"][0]["data"]
        assert np.allclose(alone, batched[i * 384 : (i + 1) * 384], atol=1e-4)
