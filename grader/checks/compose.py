"""Lab 03: the Compose file (schema + grader.policies.compose) and the nginx load balancer's upstream; then, live,
the learner's Compose stack (2 replicas + their nginx lb) under a project of the grader's own: requests through
the lb on a loopback port must all succeed and reach more than one replica.

The schema is the Compose spec that check-jsonschema vendors, the same one `make lint-docker` validates against.
Before starting the stack the file is vetted (policies.compose.vet): nothing that reaches the host (privileged,
host network or PID namespace, devices, added capabilities, bind mounts outside the submission) is started. The
lb image is built from the reference docker/lb/Dockerfile with the learner's nginx.conf, and the stack starts with
--no-build: no Dockerfile of the submission runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from functools import cache, partial
from pathlib import Path

from grader.catalog import register
from grader.context import Context, cap, run_tool
from grader.policies.compose import COMPOSE, NGINX, POLICIES, SERVER, check_nginx_upstream, vet
from grader.settings import child_env
from grader.verdict import Fail, Skip, Verdict
from loadtest.local_server import free_port
from loadtest.preflight import poll


@cache
def compose_schema() -> dict:
    """check-jsonschema's vendored Compose spec, read from its package folder (importing the package costs 0.2 s)."""
    found = importlib.util.find_spec("check_jsonschema")
    if found is None or not found.submodule_search_locations:
        raise Skip("check-jsonschema is not installed", "make setup")
    folder = Path(next(iter(found.submodule_search_locations)))
    return json.loads((folder / "builtin_schemas/vendor/compose-spec.json").read_text())


def _load(ctx: Context, path: str) -> dict:
    data = ctx.yaml(path)
    if not isinstance(data, dict):
        raise Fail(f"{path} must be a mapping with `services:`; found {type(data).__name__}")
    return data


@register("compose.schema")
def schema(ctx: Context, path: str = COMPOSE) -> Verdict:
    import jsonschema

    validator = jsonschema.validators.validator_for(compose_schema())(compose_schema())
    errors = sorted(validator.iter_errors(_load(ctx, path)), key=lambda e: list(e.absolute_path))
    problems = [f"{path} {'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message[:300]}" for e in errors[:5]]
    return Verdict(problems, info="matches the Compose specification")


@register("compose.policy")
def policy(ctx: Context, rule: str, path: str = COMPOSE) -> Verdict:
    findings = POLICIES[rule](_load(ctx, path))
    return Verdict([f"{path} {f.obj} {f.field}: {f.message}" for f in findings], info=f"{path}: {rule} rule holds")


@register("compose.nginx_upstream")
def nginx_upstream(ctx: Context, path: str = NGINX) -> Verdict:
    findings = check_nginx_upstream(ctx.text(path))
    return Verdict([f"{path} {f.field}: {f.message}" for f in findings], info=f"{path} balances over {SERVER}")


DIGIT = [0.0] * 64


def build_lb(ctx: Context, tag: str) -> None:
    """The lb image from the reference docker/lb/Dockerfile and the learner's nginx.conf: the learner's lab 03
    work is the configuration, so no Dockerfile of theirs runs here."""
    with tempfile.TemporaryDirectory(prefix="ahl-grader-lb-") as tmp:
        shutil.copy2(ctx.reference / "docker/lb/Dockerfile", Path(tmp) / "Dockerfile")
        (Path(tmp) / "nginx.conf").write_text(ctx.text(NGINX))
        proc = run_tool(
            [
                "docker",
                "build",
                "--memory",
                "1g",
                "--build-arg",
                f"BASE_IMAGE={ctx.settings.base_image}",
                "--tag",
                tag,
                tmp,
            ],
            timeout=600,
        )
    if proc.returncode != 0:
        raise Fail(f"the lb image did not build with your nginx.conf:\n{cap(proc.stdout + proc.stderr, 1200)}")


def _compose_cmd() -> list[str]:
    try:
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["docker", "compose"] if ok else ["docker-compose"]


def _infer(url: str) -> str:
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": DIGIT}]}).encode()
    req = urllib.request.Request(
        f"{url}/v2/models/digits/infer", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers.get("X-Upstream", "")


def _up(ctx: Context, path: str, replicas: int, ready_s: float) -> tuple[str, list[str]]:
    """The learner's stack under a project of the grader's own, answering through the lb on a free loopback
    port: (its URL, the compose command line for this project). Removed by the check's cleanups."""
    compose_file = ctx.file(path)
    root = ctx.root.resolve()
    problems = vet(ctx.yaml(path), root)
    if problems:
        raise Fail("not started: " + "; ".join(problems))
    project = ctx.name("stack").replace("-", "")[:40]
    port = free_port()
    env = child_env(
        IMAGE=ctx.settings.server_image, IMAGE_TAG=project, LB_PORT=str(port), BASE_IMAGE=ctx.settings.base_image
    )
    # The images are the grader's, whatever the file names: the server image, and an lb image of this run's
    # own (a learner's `image:` could otherwise name, overwrite and remove any image, or pull from anywhere).
    lb_image = f"{ctx.name('lb')}:check"
    override_dir = Path(tempfile.mkdtemp(prefix="ahl-grader-compose-"))
    ctx.cleanups.append(partial(shutil.rmtree, override_dir, ignore_errors=True))
    override: dict[str, object] = {
        "services": {SERVER: {"image": ctx.settings.server_image}, "lb": {"image": lb_image}}
    }
    compose = ctx.yaml(path)
    if isinstance(compose, dict) and "version" in compose:  # Compose v1 wants the same version in both files
        override["version"] = compose["version"]
    (override_dir / "grader.yml").write_text(json.dumps(override))
    base = [
        *_compose_cmd(),
        "--project-name",
        project,
        "--file",
        str(compose_file),
        "--file",
        str(override_dir / "grader.yml"),
    ]

    def down() -> None:
        subprocess.run(
            [*base, "down", "--volumes", "--rmi", "local", "--timeout", "5"], env=env, capture_output=True, timeout=120
        )
        # The lb image built for this run (tagged, so `--rmi local` keeps it); the server image stays.
        subprocess.run(["docker", "image", "rm", "--force", lb_image], capture_output=True, timeout=120)

    ctx.cleanups.append(down)
    build_lb(ctx, lb_image)
    up = subprocess.run(
        [*base, "up", "--detach", "--no-build", "--scale", f"{SERVER}={replicas}", SERVER, "lb"],
        env=env, cwd=root, capture_output=True, text=True, timeout=ready_s + 300, errors="replace",
    )  # fmt: skip
    if up.returncode != 0:
        raise Fail(f"`compose up` failed:\n{cap(up.stderr, 1500)}")
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool | None:
        try:
            _infer(url)
            return True
        except (urllib.error.URLError, OSError):
            return None

    if poll(answers, ready_s, interval=0.5) is None:
        raise Fail(f"nothing answered through the lb on {url} within {ready_s:g} s")
    return url, base


@register("compose.stack")
def stack(ctx: Context, path: str = COMPOSE, replicas: int = 2, requests: int = 40, ready_s: float = 120) -> Verdict:
    url, _ = _up(ctx, path, replicas, ready_s)
    errors, upstreams = 0, set()
    for _ in range(requests):
        try:
            upstreams.add(_infer(url))
        except (urllib.error.URLError, OSError):
            errors += 1
    problems = []
    if errors:
        problems.append(f"{errors} of {requests} requests through the lb failed; every request must succeed")
    if len(upstreams - {""}) < min(2, replicas):
        problems.append(
            f"requests reached {len(upstreams - {''})} replica(s) (X-Upstream {sorted(upstreams)}); "
            "the lb must spread them"
        )
    return Verdict(problems, info=f"{requests} requests through the lb, 0 errors, {len(upstreams)} replicas served")


class _Load:
    """Steady, bounded load through the lb from a few threads (loopback only): counts answers and failures."""

    def __init__(self, url: str, workers: int, max_requests: int, pause_s: float) -> None:
        self.url, self.max_requests, self.pause_s = url, max_requests, pause_s
        self.sent = self.failed = 0
        self.errors: Counter[str] = Counter()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                if self.sent >= self.max_requests:
                    return
                self.sent += 1
            try:
                _infer(self.url)
            except (urllib.error.URLError, OSError) as exc:
                with self.lock:
                    self.failed += 1
                    self.errors[str(getattr(exc, "code", "") or type(exc).__name__)] += 1
            self.stop.wait(self.pause_s)

    def __enter__(self) -> _Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def _inspect(container: str, template: str) -> str:
    proc = run_tool(["docker", "inspect", "--format", template, container], timeout=30)
    return proc.stdout.strip()


def _healthy(container: str) -> bool | None:
    return _inspect(container, "{{.State.Health.Status}}") == "healthy" or None


@register("compose.rolling_restart")
def rolling_restart(
    ctx: Context,
    path: str = COMPOSE,
    replicas: int = 2,
    ready_s: float = 120,
    workers: int = 4,
    max_requests: int = 20_000,
    healthy_s: float = 120,
) -> Verdict:
    """`make rolling-restart`, measured: under steady load through the lb, every replica is restarted in turn
    (SIGTERM, drain, start), the next one as soon as the previous is healthy again. No request may fail."""
    url, base = _up(ctx, path, replicas, ready_s)
    ids = run_tool([*base, "ps", "--quiet", SERVER], timeout=60, cwd=ctx.root).stdout.split()
    if len(ids) < 2:
        raise Fail(f"{len(ids)} model-server replica(s) running; a rolling restart needs 2")
    lb = run_tool([*base, "ps", "--quiet", "lb"], timeout=60, cwd=ctx.root).stdout.split()
    with _Load(url, workers, max_requests, pause_s=0.02) as load:
        time.sleep(2)  # steady load first
        for cid in ids:
            before = _inspect(cid, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
            restart = run_tool(["docker", "restart", "--time", "30", cid], timeout=90)
            if restart.returncode != 0:
                raise Fail(f"`docker restart` failed: {cap(restart.stderr, 300)}")
            if poll(partial(_healthy, cid), healthy_s, interval=0.2) is None:
                raise Fail(f"a restarted replica was not healthy again within {healthy_s:g} s")
            if lb and _inspect(cid, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") != before:
                run_tool(["docker", "kill", "--signal", "HUP", lb[0]], timeout=30)  # nginx re-resolves on reload
        time.sleep(3)  # and steady load after the last one
    if not load.sent:
        raise Fail("no request was sent through the lb")
    problems = []
    if load.failed:
        errors = ", ".join(f"{n} x {e}" for e, n in load.errors.most_common())
        problems.append(
            f"{load.failed} of {load.sent} requests failed while the replicas restarted one by one ({errors}). "
            "nginx marks a replica that refused a connection as down for fail_timeout (10 s by default) and, "
            "with every replica marked down, answers 502 itself: give the upstream server `max_fails=1 "
            "fail_timeout=2s` so a restarted replica is back in rotation before the next one drains"
        )
    return Verdict(problems, info=f"{len(ids)} replicas restarted under load: {load.sent} requests, 0 failed")
