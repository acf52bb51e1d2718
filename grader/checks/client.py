"""Lab 01: the learner's stdlib HTTP client, read without running it; then its live run.

Live: the learner's client.py against a real model server; it must print the right labels, exit 0,
and the server must have answered its requests (its own request counter, read after the run), so a client that
only prints the expected labels fails.

Lab 01 is Python only, so a learner's `make check` on their own tree needs no Docker: the server is the grader's own
`python -m model_server` on a free loopback port and the client a bounded process (its own session, killed with
everything it started at the deadline, resource limits, an empty working folder and environment). Other people's code
(`grade`, or `check --path` on another folder) runs in containers instead: the client read-only, non-root, with
limits, on a private internal network.
"""

from __future__ import annotations

import ast
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
from grader.settings import search_path
from grader.spec import REPO_ROOT
from grader.verdict import Fail, Skip, Verdict
from loadtest import preflight
from loadtest.local_server import LocalServer

SIGNATURES = {"infer_v2": ["base_url", "model", "rows"], "predict_v1": ["base_url", "model", "rows"], "main": None}
ENDPOINTS = {
    "/v2/models/": "the v2 infer route POST /v2/models/{model}/infer",
    "/infer": "the v2 infer route POST /v2/models/{model}/infer",
    ":predict": "the v1 route POST /v1/models/{model}:predict",
    "/metrics": "GET /metrics (queue and inference time)",
}


def parse(ctx: Context, rel: str) -> ast.Module:
    source = ctx.text(rel)
    try:
        return ast.parse(source, filename=rel)
    except SyntaxError as exc:
        raise Fail(f"{rel} does not parse: {exc.msg} at line {exc.lineno}") from None


def _stub(fn: ast.FunctionDef) -> bool:
    """A body that is only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body:
        return True
    if len(body) == 1 and isinstance(body[0], ast.Pass):
        return True
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        exc = body[0].exc
        name = exc.func if isinstance(exc, ast.Call) else exc
        return isinstance(name, ast.Name) and name.id == "NotImplementedError"
    return False


@register("client.structure")
def structure(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    found = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    problems = []
    for name, params in SIGNATURES.items():
        fn = found.get(name)
        if fn is None:
            problems.append(f"{path} has no top-level function {name}(); define it")
            continue
        args = [a.arg for a in fn.args.args]
        if params is not None and args[: len(params)] != params:
            problems.append(f"{name}({', '.join(args)}) should take ({', '.join(params)})")
        if _stub(fn):
            problems.append(f"{name}() is still a stub (pass / NotImplementedError); implement it")
    return Verdict(problems=problems, info="infer_v2, predict_v1 and main are defined")


@register("client.stdlib_only")
def stdlib_only(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    outside = sorted(m for m in mods if m not in sys.stdlib_module_names)
    if outside:
        return Verdict([f"{path} imports {', '.join(outside)}: use only the standard library (urllib.request, json)"])
    return Verdict(info=f"imports only the standard library ({', '.join(sorted(mods))})")


@register("client.endpoints")
def endpoints(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    strings = " ".join(
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    )
    missing = {desc for frag, desc in ENDPOINTS.items() if frag not in strings}
    return Verdict([f"{path} never names {d}" for d in sorted(missing)], info="names the v2, v1 and metrics routes")


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
            cwd=tmp, env={"PATH": search_path(), "HOME": tmp}, stdin=subprocess.DEVNULL,
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
            raise Skip(why, requirements.provide(need, ctx.settings))
    net = sandbox.network(ctx, "net")
    server = sandbox.run_detached(
        ctx, "server", ctx.settings.server_image, "--read-only", "--tmpfs", "/tmp", "--network-alias", "server",
        "--health-interval", "1s", net=net,
    )  # fmt: skip
    sandbox.wait_healthy(server, ready_s)
    client = sandbox.run_detached(
        ctx, "client", ctx.settings.server_image, "--read-only", "--user", "65534:65534", "--pids-limit", "64",
        "--volume", f"{script}:/submission/client.py:ro", net=net,
        command=("python", "/submission/client.py", "--url", "http://server:8000", "--requests", str(REQUESTS)),
    )  # fmt: skip
    code, output = sandbox.wait_exit(client, run_s)
    return _verdict(path, code, output, lambda: answered(server))
