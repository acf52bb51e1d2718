"""The server as a real process on a free loopback port: batching, overload, graceful shutdown, logs."""

import json
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from loadtest.payloads import digits_v2_body

pytestmark = pytest.mark.slow

ROW = [float(i % 17) for i in range(64)]


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match and ",".join(sorted((match[1] or "").split(","))) == want:
            return float(match[2])
    raise AssertionError(f"{name}{{{want}}} not in /metrics")


def post_many(url: str, body: dict, count: int, timeout: float = 30) -> list[httpx.Response]:
    """`count` requests at once, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=timeout) as client:
            barrier.wait()
            return client.post(url, json=body)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_requests_are_merged_into_batches(start_server):
    server = start_server("--models", "digits", "--max-batch-size", "32", "--max-queue-delay-ms", "50")
    responses = post_many(f"{server.url}/v2/models/digits/infer", digits_v2_body([ROW]), 16)
    assert [r.status_code for r in responses] == [200] * 16
    runs = metric(server.url, "model_server_batch_size_count", model="digits", version="2")
    rows = metric(server.url, "model_server_batch_size_sum", model="digits", version="2")
    assert rows == 16  # every row went through a batch (warm-up runs bypass the batcher)
    assert runs < 16, f"16 concurrent requests ran in {runs} separate batches: nothing was merged"


def test_overload_answers_503_fast_and_never_hangs(start_server):
    server = start_server(
        "--models",
        "digits-large",
        "--max-batch-size",
        "1",
        "--max-queue-size",
        "2",
        "--intra-op-threads",
        "1",
        "--max-request-rows",
        "256",
    )
    body = digits_v2_body([ROW] * 256)  # ~0.1 s of fp32 work each, so a queue of 2 overflows
    responses = post_many(f"{server.url}/v2/models/digits-large/versions/1/infer", body, 24, timeout=30)
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(503) > 0 and codes.count(200) > 0, codes
    refused = [r for r in responses if r.status_code == 503]
    assert refused[0].headers["Retry-After"] == "1" and "overloaded" in refused[0].json()["error"]
    # Fast: a refusal does not wait for the queue (limits far below the client's 30 s timeout, so they can fail).
    slowest_refusal = max(r.elapsed.total_seconds() for r in refused)
    slowest_answer = max(r.elapsed.total_seconds() for r in responses if r.status_code == 200)
    assert slowest_refusal < 2.0, f"a 503 took {slowest_refusal:.2f} s"
    assert slowest_refusal < slowest_answer, (slowest_refusal, slowest_answer)
    assert metric(
        server.url, "model_server_requests_total", model="digits-large", version="1", code="503"
    ) == codes.count(503)


def test_sigterm_drains_without_losing_requests(start_server):
    server = start_server(
        "--models",
        "digits-large",
        "--max-batch-size",
        "1",
        "--drain-seconds",
        "1",
        "--intra-op-threads",
        "1",
        "--max-queue-size",
        "64",
        "--max-request-rows",
        "128",
        "--request-timeout-s",
        "30",  # the drain is under test, not the timeout: room for 13 requests on busy shared cores
    )
    body = digits_v2_body([ROW] * 128)
    url = f"{server.url}/v2/models/digits-large/versions/1/infer"
    results: list[httpx.Response] = []
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(lambda: httpx.post(url, json=body, timeout=30)) for _ in range(12)]
        deadline = time.monotonic() + 10
        while metric(server.url, "model_server_requests_in_flight") < 6:  # requests are queued and running
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 503  # readiness off at once
        assert httpx.get(f"{server.url}/v2/health/live").status_code == 200  # still serving while draining
        late = httpx.post(url, json=body, timeout=30)  # arrives during the drain period: still served
        results = [f.result() for f in futures] + [late]
    assert [r.status_code for r in results] == [200] * 13
    assert server.proc.wait(timeout=30) == 0


def test_json_logs(start_server, tmp_path):
    server = start_server("--models", "digits", "--log-format", "json")
    server.stop()
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert any("onnxruntime threads" in line["msg"] for line in lines)
