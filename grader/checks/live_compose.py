"""Lab 03 live: the learner's Compose stack (2 replicas + their nginx lb) under a project of the grader's
own; requests through the lb on a loopback port must all succeed and reach more than one replica.

The file is vetted first: nothing that reaches the host (privileged, host network or PID namespace,
devices, added capabilities, bind mounts outside the submission) is started. The lb image is built from the
reference docker/lb/Dockerfile with the learner's nginx.conf, and the stack starts with --no-build: no
Dockerfile of the submission runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from grader.catalog import register
from grader.checks.compose import COMPOSE, NGINX, SERVER, _services
from grader.context import Context, Fail, Verdict, cap, run_tool
from grader.requirements import BASE_IMAGE, SERVER_IMAGE
from loadtest.local_server import free_port
from loadtest.preflight import poll

DIGIT = [0.0] * 64


def vet(compose: dict, root: Path) -> list[str]:
    problems = []
    for name, svc in _services(compose).items():
        for key in ("privileged", "devices", "cap_add", "pid", "ipc", "userns_mode", "cgroup_parent"):
            if svc.get(key):
                problems.append(f"service {name} sets {key}; the grader does not start it")
        if str(svc.get("network_mode", "")).startswith(("host", "container:", "service:")):
            problems.append(f"service {name} uses network_mode {svc['network_mode']}")
        for vol in svc.get("volumes") or []:
            src = vol.get("source", "") if isinstance(vol, dict) else str(vol).split(":")[0]
            if src.startswith(("/", "~", "..")) or (
                src.startswith(".") and not (root / src).resolve().is_relative_to(root)
            ):
                problems.append(f"service {name} mounts {src} from outside the submission")
    return problems


def _expand(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and $VAR, resolved against the environment the stack gets."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        lambda m: env.get(m.group(1) or m.group(3)) or (m.group(2) or ""),
        value,
    )


def build_lb(ctx: Context, tag: str) -> None:
    """The lb image from the reference docker/lb/Dockerfile and the learner's nginx.conf: the learner's lab 03
    work is the configuration, so no Dockerfile of theirs runs here."""
    with tempfile.TemporaryDirectory(prefix="ahl-grader-lb-") as tmp:
        shutil.copy2(ctx.reference / "docker/lb/Dockerfile", Path(tmp) / "Dockerfile")
        (Path(tmp) / "nginx.conf").write_text(ctx.text(NGINX))
        proc = run_tool(
            ["docker", "build", "--memory", "1g", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--tag", tag, tmp],
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


@register("compose.stack")
def stack(ctx: Context, path: str = COMPOSE, replicas: int = 2, requests: int = 40, ready_s: float = 120) -> Verdict:
    compose_file = ctx.file(path)
    root = ctx.root.resolve()
    problems = vet(ctx.yaml(path), root)
    if problems:
        raise Fail("not started: " + "; ".join(problems))
    project = ctx.name("stack").replace("-", "")[:40]
    port = free_port()
    env = {
        **os.environ,
        "IMAGE": SERVER_IMAGE,
        "IMAGE_TAG": project,
        "LB_PORT": str(port),
        "BASE_IMAGE": BASE_IMAGE,
    }
    base = [*_compose_cmd(), "--project-name", project, "--file", str(compose_file)]
    lb_image = _expand(str((_services(ctx.yaml(path)).get("lb") or {}).get("image") or f"{project}_lb"), env)

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
