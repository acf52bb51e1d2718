"""Targets that answer, but wrongly: non-JSON pages, 200s with wrong answers, fast 503s (real HTTP, slow)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.slow


class _Handler(BaseHTTPRequestHandler):
    mode = "html"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.mode == "html":
            self._send(200, b"<html><body>welcome to nginx</body></html>", "text/html")
            return
        text, digits = (
            {"name": "text", "datatype": "BYTES", "shape": [-1]},
            {"name": "input", "datatype": "FP32", "shape": [-1, 64]},
        )
        model = self.path.removeprefix("/v2/models/")
        meta = {"name": model, "ready": True, "inputs": [text if model == "minilm" else digits]}
        self._send(200, json.dumps(meta).encode(), "application/json")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "503":  # overloaded, and quick to say so
            self._send(503, b'{"error": "overloaded"}', "application/json")
            return
        # A 200 whose embeddings are not unit length: looks fine to a status check, but is wrong.
        rows = 1
        body = {
            "model_name": "minilm",
            "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [rows, 384], "data": [0.5] * 384 * rows}],
            "predictions": [[0.5] * 384],
        }
        self._send(200, json.dumps(body).encode(), "application/json")


@pytest.fixture
def fake_server():
    servers = []

    def start(mode: str) -> str:
        handler = type("H", (_Handler,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_non_json_target(fake_server, tmp_path, loadtest):
    proc = loadtest("run", "--host", fake_server("html"), "--duration", "2", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "answered non-JSON (text/html)" in proc.stderr.strip()


def test_wrong_answers_count_as_failures(fake_server, tmp_path, loadtest):
    proc = loadtest(
        "run",
        "--host",
        fake_server("wrong"),
        "--profile",
        "minilm",
        "--users",
        "1",
        "--duration",
        "2",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "FAIL error rate 100.00%" in proc.stdout
    assert "every request failed" in proc.stderr and "bad answer: embedding norm not 1" in proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["total"]["failures"] == summary["total"]["requests"] > 0
    assert set(summary["total"]["errors"]) == {"bad answer: embedding norm not 1"}


def _run_against_fast_503s(fake_server, tmp_path, loadtest, *gate: str):
    proc = loadtest(
        "run", "--host", fake_server("503"), "--users", "2", "--duration", "2", "--out", str(tmp_path), *gate
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["total"]["failures"] == summary["total"]["requests"] > 0
    assert "latency_ms" not in summary["total"]  # latency is over successful requests, and there were none
    return proc


def test_fast_errors_do_not_pass_a_latency_only_slo(fake_server, tmp_path, loadtest):
    slo = tmp_path / "latency-only.yaml"
    slo.write_text("latency_ms: {p95: 1000, p99: 2000}\n")
    proc = _run_against_fast_503s(fake_server, tmp_path, loadtest, "--slo", str(slo))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "every request failed" in proc.stderr and "HTTP 503" in proc.stderr


def test_a_run_where_every_request_failed_never_exits_0(fake_server, tmp_path, loadtest):
    proc = _run_against_fast_503s(fake_server, tmp_path, loadtest, "--no-slo")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: every request failed")
