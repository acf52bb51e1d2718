"""Compose: 2 replicas behind nginx both serve, bad input gets the same 4xx through the lb as
directly from a replica, a rolling restart under load loses no request, and neither the rolling
restart nor the scaling experiment changes a stack that was already running."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

ROW = [1.0] * 64
GOOD = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": ROW}]}
# (path, body bytes, content type): each must get a clear 4xx, never a 500.
BAD_REQUESTS = {
    "wrong shape": (
        "/v2/models/digits/infer",
        json.dumps({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
        "application/json",
    ),
    "wrong input name": (
        "/v2/models/digits/infer",
        json.dumps({"inputs": [{"name": "nope", "shape": [1, 64], "datatype": "FP32", "data": ROW}]}),
        "application/json",
    ),
    "unknown model": ("/v2/models/no-such-model/infer", json.dumps(GOOD), "application/json"),
    "not json": ("/v2/models/digits/infer", "this is not json", "application/json"),
    "NaN": (
        "/v2/models/digits/infer",
        json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [math.nan] * 64}]}),
        "application/json",
    ),
    "too large": ("/v2/models/digits/infer", "[" + "1," * (3 * 1024 * 1024) + "1]", "application/json"),
}

# Sends one request from inside a replica to itself (replicas are not published on the host).
DIRECT = """
import http.client, sys
body = sys.stdin.buffer.read()
conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=10)
conn.putrequest("POST", sys.argv[1])
conn.putheader("Content-Type", sys.argv[2])
conn.putheader("Content-Length", str(len(body)))
conn.endheaders()
try:
    conn.send(body)
except OSError:
    pass  # a 413 may come before the server reads the whole body
r = conn.getresponse()
print(r.status)
print(r.read().decode())
"""


def served_by(stack, requests: int) -> set[str]:
    """Replica addresses named by the lb's X-Upstream header (the last one when nginx retried)."""
    served = set()
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        for _ in range(requests):
            r = client.post("/v2/models/digits/infer", json=GOOD)
            assert r.status_code == 200, r.text
            served.add(r.headers["X-Upstream"].split(",")[-1].strip().rsplit(":", 1)[0])
    return served


def test_both_replicas_serve(compose_stack) -> None:
    replicas = compose_stack.containers("model-server")
    assert len(replicas) == 2
    assert served_by(compose_stack, 40) == {compose_stack.ip(c) for c in replicas}, "both replicas should serve"


def test_reload_lb_returns_once_the_old_workers_have_finished(compose_stack) -> None:
    # `compose.sh up` reloads the lb, and a reload is asynchronous: an old worker closed a connection it had just
    # accepted without an answer (CI: the first request after `up` failed). An old worker reading a request's body
    # stays until that request ends; reload_lb must not return before.
    body = json.dumps(GOOD).encode()
    head = f"POST /v2/models/digits/infer HTTP/1.1\r\nHost: lb\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", compose_stack.lb_port), timeout=30) as held:
        held.sendall(head + body[:10])
        time.sleep(0.5)  # a worker of the running generation is reading this body
        reload = subprocess.Popen(
            ["bash", "-c", f"source {ROOT / 'scripts/docker-lib.sh'} && reload_lb"],
            env={**os.environ, **compose_stack.env},
        )
        try:
            time.sleep(2)
            assert reload.poll() is None, "reload_lb returned while an old worker still held a request"
            held.sendall(body[10:])
            assert held.recv(65536).startswith(b"HTTP/1.1 200"), "the held request was not answered"
            assert reload.wait(timeout=30) == 0
        finally:
            reload.kill()
    assert served_by(compose_stack, 4)  # the new workers answer


def test_only_the_lb_is_published_and_only_on_loopback(run, compose_stack) -> None:
    for replica in compose_stack.containers("model-server"):
        ports = json.loads(run("docker", "inspect", replica).stdout)[0]["NetworkSettings"]["Ports"]
        assert not any(ports.values()), f"a replica is published: {ports}"
    (lb,) = compose_stack.containers("lb")
    ports = json.loads(run("docker", "inspect", lb).stdout)[0]["NetworkSettings"]["Ports"]
    bindings = [binding for per_port in ports.values() if per_port for binding in per_port]
    assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_input_same_status_through_lb_as_direct(run, compose_stack, case: str) -> None:
    path, body, content_type = BAD_REQUESTS[case]
    via_lb = httpx.post(
        compose_stack.url + path, content=body.encode(), timeout=10, headers={"Content-Type": content_type}
    )
    replica = compose_stack.containers("model-server")[0]
    proc = run(
        "docker", "exec", "-i", replica, "python", "-c", DIRECT, path, content_type, check=False, input_text=body
    )
    status, _, direct_body = proc.stdout.partition("\n")
    assert 400 <= via_lb.status_code < 500, (via_lb.status_code, via_lb.text)
    assert via_lb.status_code == int(status), (via_lb.text, proc.stdout, proc.stderr)
    assert via_lb.json() == json.loads(direct_body), "the lb must pass the server's JSON error through"
    assert via_lb.json()["error"]


def stack_state(run, stack) -> dict[str, str]:
    """Container id -> service and state of every container of the stack's project."""
    out = run(
        "docker", "ps", "--all", "--filter", f"label=com.docker.compose.project={stack.project}",
        "--format", '{{.ID}} {{.Label "com.docker.compose.service"}} {{.State}}',
    ).stdout  # fmt: skip
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out.splitlines()}


def test_rolling_restart_loses_no_request_and_leaves_the_running_stack_up(run, compose_stack, tmp_path) -> None:
    # The fixture's stack plays the one a user started with `make compose-up`: no KEEP=1 here.
    before = stack_state(run, compose_stack)
    env = {**compose_stack.env, "RESULTS": str(tmp_path)}
    proc = run(str(ROOT / "scripts/rolling-restart.sh"), "2", env=env, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "using your running stack" in proc.stdout, proc.stdout
    total = json.loads((tmp_path / "rolling-restart/summary.json").read_text())["total"]
    assert total["requests"] > 100 and total["failures"] == 0, total
    # The same containers are up (restarted, not replaced or removed), and both replicas serve again.
    assert stack_state(run, compose_stack) == before
    assert served_by(compose_stack, 20) == {compose_stack.ip(c) for c in compose_stack.containers("model-server")}


def test_compose_scale_runs_beside_the_running_stack_and_leaves_it_alone(run, compose_stack, tmp_path) -> None:
    before = stack_state(run, compose_stack)
    env = {
        **compose_stack.env,
        "RESULTS": str(tmp_path),
        "PROFILE": "digits",
        "USERS": "2",
        "DURATION": "2",
        "WARMUP": "0",
    }
    scale_env = {**compose_stack.env, "COMPOSE_PROJECT": f"{compose_stack.project}-scale"}
    try:
        proc = run(str(ROOT / "scripts/compose-scale.sh"), "1", env=env, check=False, timeout=240)
    finally:
        run(str(ROOT / "scripts/compose.sh"), "down", env=scale_env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "is not touched" in proc.stdout and "[1/1] 1 replica(s)" in proc.stdout, proc.stdout
    table = (tmp_path / "compose-scale/table.csv").read_text().splitlines()
    assert len(table) == 2 and table[1].startswith("1,"), table
    # Its own project is gone; the user's stack is exactly as it was and still serves.
    leftover = run(
        "docker",
        "ps",
        "--all",
        "--quiet",
        "--filter",
        f"label=com.docker.compose.project={compose_stack.project}-scale",
    ).stdout
    assert leftover.strip() == ""
    assert stack_state(run, compose_stack) == before
    assert len(served_by(compose_stack, 4)) >= 1
