"""The server as a real process under hostile conditions: start-up errors, a broken model, slow clients,
oversized requests and memory. Each test reproduces a defect found by attacking a running server (issue 7)."""

import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from loadtest.local_server import LOOPBACK, free_port
from loadtest.payloads import text_v2_body
from model_server.config import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ROWS = Settings.model_fields["max_request_rows"].default


def run_server(*args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "model_server", "--host", LOOPBACK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - started


def gauge(url: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    assert match, name
    return float(match[1])


def test_port_in_use_exits_2_with_one_line_before_models_load(models_dir):
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, _ = run_server("--port", str(port), "--model-repository", str(models_dir))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line: no model was read, nothing else was logged
    assert f"cannot listen on {LOOPBACK}:{port}" in result.stderr and "another process" in result.stderr


def test_unresolvable_host_exits_2_with_one_line(models_dir):
    result = subprocess.run(
        [sys.executable, "-m", "model_server", "--host", "no-such-host.invalid", "--model-repository", str(models_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "cannot resolve --host 'no-such-host.invalid'" in result.stderr


def test_unknown_model_lists_the_available_ones(models_dir):
    result, _ = run_server("--port", str(free_port()), "--model-repository", str(models_dir), "--models", "nope")
    assert result.returncode == 2
    assert "nope not found" in result.stderr and "available: digits, digits-large, minilm" in result.stderr


def test_a_model_that_fails_to_load_stops_the_server(models_dir, tmp_path):
    shutil.copytree(models_dir / "digits" / "1", tmp_path / "digits" / "1")
    (tmp_path / "digits" / "1" / "model.onnx").write_bytes(b"this is not an onnx model")
    result, _ = run_server("--port", str(free_port()), "--model-repository", str(tmp_path), timeout=60)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("model_server: model digits version 1 failed to load from"), result.stderr
    assert "model.onnx" in last


def test_a_corrupt_tokenizer_stops_the_server_in_one_line(models_dir, tmp_path):
    version = tmp_path / "minilm" / "1"
    version.mkdir(parents=True)
    shutil.copy(models_dir / "minilm" / "1" / "model.json", version)
    (version / "model.onnx").symlink_to(models_dir / "minilm" / "1" / "model.onnx")
    (version / "tokenizer.json").write_text("{ not json")
    result, _ = run_server("--port", str(free_port()), "--model-repository", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("model_server: model minilm version 1 ("), result.stderr


def _held_for(sock: socket.socket, trickle: bytes, limit_s: float) -> tuple[float, bytes]:
    """Send `trickle` every 0.2 s until the server closes the connection (or `limit_s`): seconds held, bytes read."""
    sock.settimeout(0.2)
    started, answer = time.monotonic(), b""
    while time.monotonic() - started < limit_s:
        try:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
            continue
        except TimeoutError:
            pass
        except ConnectionError:
            break
        try:
            if trickle:
                sock.sendall(trickle)
        except OSError:  # reset or broken pipe: the server closed it
            break
    return time.monotonic() - started, answer


SLOW_CLIENTS = {  # (what it sends first, what it trickles every 0.2 s, the part the server waits for)
    "silent": (b"", b"", "headers"),
    "slow-headers": (b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", "headers"),
    "slow-body": (b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", b"[", "body"),
}


def test_slow_clients_are_cut_off(start_server):
    server = start_server("--models", "digits", "--header-timeout-s", "1", "--body-timeout-s", "1")

    def attack(opening: bytes, trickle: bytes) -> tuple[float, bytes]:
        with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
            sock.sendall(opening)
            return _held_for(sock, trickle, limit_s=8)

    with ThreadPoolExecutor(len(SLOW_CLIENTS)) as pool:
        results = dict(zip(SLOW_CLIENTS, pool.map(lambda c: attack(*c[:2]), SLOW_CLIENTS.values()), strict=True))
    for kind, (held, answer) in results.items():
        assert held < 1 + 1.5, f"{kind}: a slow client held the connection for {held:.1f} s"
        assert answer.startswith(b"HTTP/1.1 408 "), (kind, answer)
        assert f"request {SLOW_CLIENTS[kind][2]} not received within 1 s".encode() in answer, (kind, answer)
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200  # and the server still serves


def test_a_maximal_request_does_not_starve_small_ones(start_server):
    """The row and text caps bound one request's work, so small requests on the same model still answer."""
    timeout = 20  # seconds: loose enough for 2 shared, busy cores; one maximal request takes a few
    server = start_server("--models", "minilm", "--request-timeout-s", str(timeout))
    url = f"{server.url}/v2/models/minilm/infer"
    sentence = "The autoscaler added two replicas when the CPU crossed its target. " * 9  # ~128 tokens
    huge = httpx.post(url, json=text_v2_body([sentence] * 3000), timeout=60)  # 3,000 texts, under the body limit
    assert huge.status_code == 400 and "--max-request-rows" in huge.json()["error"], huge.text

    chars = Settings.model_fields["max_text_chars"].default
    maximal = text_v2_body([(sentence * 8)[:chars]] * ROWS)  # every text as long as the defaults allow
    with ThreadPoolExecutor(1) as pool:
        big = pool.submit(httpx.post, url, json=maximal, timeout=30)
        deadline = time.monotonic() + 10
        while gauge(server.url, "model_server_requests_in_flight") < 1 and not big.done():  # it is in
            assert time.monotonic() < deadline
            time.sleep(0.01)
        small = [httpx.post(url, json=text_v2_body(["a short question"]), timeout=timeout + 1) for _ in range(3)]
        assert big.result().status_code == 200
    assert [r.status_code for r in small] == [200] * 3, [r.text for r in small]


def test_memory_stays_bounded_under_max_size_requests(start_server):
    """Six concurrent requests at the row cap, and six far over it, leave the resident memory nearly where it was."""
    server = start_server("--models", "digits-large", "--intra-op-threads", "1")
    url = f"{server.url}/v2/models/digits-large/versions/1/infer"
    for _ in range(3):  # warm up: the first batches grow onnxruntime's arena to its working size
        httpx.post(url, content=_digits_body(ROWS), timeout=30)
    before = gauge(server.url, "process_resident_memory_bytes")
    bodies = [_digits_body(ROWS)] * 6 + [_digits_body(29_000)] * 6  # ~3.9 MB each: under the body limit
    barrier = threading.Barrier(len(bodies))

    def post(body: bytes) -> int:
        barrier.wait()
        return httpx.post(url, content=body, timeout=60).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        codes = list(pool.map(post, bodies))
    grown = gauge(server.url, "process_resident_memory_bytes") - before
    assert grown < 100e6, f"RSS grew by {grown / 1e6:.0f} MB"
    assert codes == [200] * 6 + [400] * 6


def _digits_body(rows: int) -> bytes:
    row = b"[" + b",".join([b"1"] * 64) + b"]"
    return b'{"inputs":[{"name":"input","shape":[%d,64],"datatype":"FP32","data":[%s]}]}' % (
        rows,
        b",".join([row] * rows),
    )
