"""Lab 01 live: the learner's client.py against a real model server; it must print the right labels, exit 0,
and the server must have answered its requests (its own request counter, read after the run), so a client that
only prints the expected labels fails.

Lab 01 is Python only, so a learner's `make check` on their own tree needs no Docker: the server is the grader's own
`python -m model_server` on a free loopback port and the client a bounded process (its own session, killed with
everything it started at the deadline, resource limits, an empty working folder and environment). Other people's code
(`grade`, or `check --path` on another folder) runs in containers instead: the client read-only, non-root, with
limits, on a private internal network.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from grader import requirements, sandbox
from grader.catalog import register
from grader.context import Context, cap
from grader.requirements import SERVER_IMAGE
from grader.spec import REPO_ROOT
from grader.verdict import Fail, Skip, Verdict
from loadtest import preflight
from loadtest.local_server import LocalServer

CLIENT = "labs/01-serve/client.py"
REQUESTS = 5  # the client's --requests; with one v2 and one v1 call it makes REQUESTS + 2 inference requests
SCRAPE = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/metrics', timeout=10).read().decode())"


def _count(metrics: str, model: str) -> int:
    return int(
        sum(
            s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
            if s.name == "model_server_requests_total" and s.labels.get("model") == model
            and s.labels.get("code") == "200"
        )
    )  # fmt: skip


def answered(server: str, model: str = "digits") -> int:
    """Inference requests for `model` the server answered with 200, from its /metrics (read inside it)."""
    return _count(sandbox.docker("exec", server, "python", "-c", SCRAPE, timeout=60).stdout, model)


def _verdict(path: str, code: int, output: str, count) -> Verdict:
    problems = []
    if code != 0:
        problems.append(f"`python {path} --url ...` exited {code} against a real server; its output:\n{output}")
    elif "labels [0, 1, 7]" not in output:
        problems.append(f"the client did not print the labels [0, 1, 7] of the three samples; its output:\n{output}")
    elif (n := count()) < REQUESTS + 2:
        problems.append(
            f"the client printed the labels, but the server answered {n} digits inference requests, not the "
            f"{REQUESTS + 2} it makes (one v2, one v1, then --requests {REQUESTS}): print what the server returns"
        )
    return Verdict(problems, info="the client answered [0, 1, 7] through v2 and v1 and read /metrics")


def _limits() -> None:
    """In the client's process before it starts: bounded memory, CPU time, file size and core dumps."""
    for limit, value in (
        (resource.RLIMIT_AS, 1 << 30),
        (resource.RLIMIT_CPU, 60),
        (resource.RLIMIT_FSIZE, 1 << 20),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


def _local(ctx: Context, script: Path, path: str, ready_s: float, run_s: float) -> Verdict:
    if why := requirements.missing("models"):
        raise Skip(why, requirements.PROVIDES["models"])
    server = LocalServer(REPO_ROOT / "models", ["--models", "digits", "--drain-seconds", "0"], ready_timeout=ready_s)

    def stop() -> None:
        server.stop()

    ctx.cleanups.append(stop)
    try:
        server.start()
    except preflight.TargetError as exc:
        raise Fail(f"the grader's model server did not start: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="ahl-grader-client-") as tmp:
        # -I: no user site-packages, no PYTHON* variables; a new session, so the deadline ends its children too.
        client = subprocess.Popen(
            [sys.executable, "-I", str(script), "--url", server.url, "--requests", str(REQUESTS)],
            cwd=tmp, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_limits,
        )  # fmt: skip
        try:
            out, _ = client.communicate(timeout=run_s)
        except subprocess.TimeoutExpired:
            os.killpg(client.pid, signal.SIGKILL)
            client.communicate()
            raise Fail(f"still running after {run_s:g} s (an endless loop?); it was stopped") from None
    output = cap(out.decode("utf-8", "replace"), 1500)

    def count() -> int:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
            return _count(resp.read().decode(), "digits")

    return _verdict(path, client.returncode, output, count)


@register("client.live")
def client_live(ctx: Context, path: str = CLIENT, ready_s: float = 60, run_s: float = 30) -> Verdict:
    script = ctx.file(path)
    if ctx.own_tree:  # a learner's own `make check`: a bounded local process, no Docker needed
        return _local(ctx, script, path, ready_s, run_s)
    for need in ("docker", "server-image"):
        if why := requirements.missing(need):
            raise Skip(why, requirements.PROVIDES[need])
    net = sandbox.network(ctx, "net")
    server = sandbox.run_detached(
        ctx, "server", SERVER_IMAGE, "--read-only", "--tmpfs", "/tmp", "--network-alias", "server",
        "--health-interval", "1s", net=net,
    )  # fmt: skip
    sandbox.wait_healthy(server, ready_s)
    client = sandbox.run_detached(
        ctx, "client", SERVER_IMAGE, "--read-only", "--user", "65534:65534", "--pids-limit", "64",
        "--volume", f"{script}:/submission/client.py:ro", net=net,
        command=("python", "/submission/client.py", "--url", "http://server:8000", "--requests", str(REQUESTS)),
    )  # fmt: skip
    code, output = sandbox.wait_exit(client, run_s)
    return _verdict(path, code, output, lambda: answered(server))
