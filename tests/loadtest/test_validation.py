import math

import pytest

from loadtest import validation as v
from loadtest.records import error_type


def digits_answer(rows=2):
    probs = [0.0] * 10 * rows
    labels = []
    for i in range(rows):
        probs[i * 10 + i] = 0.9
        probs[i * 10 + 9 - i if 9 - i != i else i * 10] += 0.1
        labels.append(i)
    return {
        "model_name": "digits",
        "model_version": "2",
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [rows], "data": labels},
            {"name": "probabilities", "datatype": "FP32", "shape": [rows, 10], "data": probs},
        ],
    }


def embedding_answer(rows=2, scale=1.0):
    row = [scale / math.sqrt(384)] * 384
    return {
        "model_name": "minilm",
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [rows, 384], "data": row * rows}],
    }


def test_good_answers_pass():
    v.digits_v2(digits_answer(), "digits", 2)
    v.minilm_v2(embedding_answer(), "minilm", 2)
    v.digits_v1({"predictions": [3, 7]}, 2)
    v.minilm_v1({"predictions": [[1 / math.sqrt(384)] * 384]}, 1)


def kind(fn, *args):
    with pytest.raises(v.BadAnswer) as info:
        fn(*args)
    return info.value.kind


def test_wrong_shape():
    assert kind(v.digits_v2, digits_answer(2), "digits", 3) == "wrong shape for label"


def test_nan_is_a_failure():
    body = embedding_answer()
    body["outputs"][0]["data"][5] = float("nan")
    assert kind(v.minilm_v2, body, "minilm", 2) == "non-finite embedding"


def test_embedding_norm_must_be_one():
    assert kind(v.minilm_v2, embedding_answer(scale=0.5), "minilm", 2) == "embedding norm not 1"


def test_label_must_match_probabilities():
    body = digits_answer()
    body["outputs"][0]["data"] = [5, 1]
    assert kind(v.digits_v2, body, "digits", 2) == "label is not the most probable class"


def test_probabilities_must_sum_to_one():
    body = digits_answer()
    body["outputs"][1]["data"] = [0.5] * 20
    assert kind(v.digits_v2, body, "digits", 2) == "probabilities do not sum to 1"


def test_missing_output_and_wrong_model():
    body = digits_answer()
    body["outputs"] = body["outputs"][:1]
    assert kind(v.digits_v2, body, "digits", 2) == "missing output probabilities"
    assert kind(v.digits_v2, digits_answer(), "digits-large", 2) == "wrong model_name"
    assert kind(v.minilm_v2, {"error": "boom"}, "minilm", 1) == "no outputs"


def test_v1_failures():
    assert kind(v.digits_v1, {"predictions": [3]}, 2) == "wrong number of predictions"
    assert kind(v.digits_v1, {"predictions": [12, 1]}, 2) == "label out of range"
    assert kind(v.minilm_v1, {"predictions": [[0.1] * 10]}, 1) == "wrong embedding size"
    assert kind(v.minilm_v1, {}, 1) == "no predictions"


def test_error_types_group_failures():
    assert error_type(None, 200) == ""
    assert error_type(v.BadAnswer("embedding norm not 1", "0.5"), 200) == "bad answer: embedding norm not 1"
    assert error_type(RuntimeError("503"), 503) == "HTTP 503"
    assert error_type(ConnectionRefusedError(), 0) == "ConnectionRefusedError"


def test_records_from_locust_request_event():
    class Response:
        status_code = 503

    from loadtest.records import from_event

    r = from_event(
        request_type="POST",
        name="digits v2 infer",
        response_time=12.5,
        response_length=40,
        exception=RuntimeError("503 Server Error"),
        context={"model": "digits"},
        response=Response(),
        start_time=1700000000.0,
        url="http://127.0.0.1:1/v2/models/digits/infer",
    )
    assert (r.model, r.status, r.latency_ms, r.error, r.ok) == ("digits", 503, 12.5, "HTTP 503", False)
    assert r.end == 1700000000.0125


def test_preflight_refuses_a_model_whose_inputs_do_not_fit_the_profile():
    from loadtest.payloads import DIGITS_INPUT, TEXT_INPUT
    from loadtest.preflight import TargetError, check_fit

    digits = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]}
    text = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}]}
    check_fit("digits", "digits-large", digits, DIGITS_INPUT)
    check_fit("minilm", "minilm", text, TEXT_INPUT)
    wider = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 784]}]}
    for profile, model, meta, sends in [
        ("digits", "minilm", text, DIGITS_INPUT),
        ("minilm", "digits", digits, TEXT_INPUT),
        ("digits", "mnist", wider, DIGITS_INPUT),
        ("digits", "odd", {}, DIGITS_INPUT),
    ]:
        with pytest.raises(TargetError, match=f"--profile {profile} sends .* but model '{model}' takes"):
            check_fit(profile, model, meta, sends)


def test_poll_returns_the_first_answer_and_gives_up_at_the_deadline():
    import time

    from loadtest.preflight import poll

    answers = iter([None, None, "ready"])
    assert poll(lambda: next(answers), timeout=5, interval=0.01) == "ready"
    started = time.monotonic()
    assert poll(lambda: None, timeout=0.2, interval=0.05) is None
    assert time.monotonic() - started < 1.0


def test_wait_ready_stops_as_soon_as_the_server_process_is_gone():
    from loadtest.local_server import free_port
    from loadtest.preflight import TargetError, wait_ready

    with pytest.raises(TargetError, match="server exited before it was ready"):
        wait_ready(f"http://127.0.0.1:{free_port()}", timeout=30, alive=lambda: False)
