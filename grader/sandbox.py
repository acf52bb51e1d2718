"""Docker helpers for live checks: every container runs with limits, dropped capabilities and no
host network, and is removed by name when the check ends (or times out)."""

from __future__ import annotations

import subprocess
import time

from grader.context import Context, cap, run_tool
from grader.verdict import Fail

LIMITS = [
    "--memory", "1g",
    "--memory-swap", "1g",
    "--cpus", "1",
    "--pids-limit", "256",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--log-opt", "max-size=1m",
]  # fmt: skip


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_tool(["docker", *args], timeout=timeout)


def remove(kind: str, name: str) -> None:
    """Remove a container, network or image by name (best effort: it may never have been created)."""
    subprocess.run(
        ["docker", kind, "rm", "--force", name] if kind != "network" else ["docker", "network", "rm", name],
        capture_output=True,
        timeout=60,
    )


def network(ctx: Context, suffix: str) -> str:
    """A private, internal network (no route to the host or the internet)."""
    name = ctx.name(suffix)
    ctx.cleanups.append(lambda: remove("network", name))
    proc = docker("network", "create", "--internal", name)
    if proc.returncode != 0:
        raise Fail(f"docker network create failed: {cap(proc.stderr, 300)}")
    return name


def run_detached(
    ctx: Context, suffix: str, image: str, *args: str, net: str = "none", command: tuple[str, ...] = ()
) -> str:
    name = ctx.name(suffix)
    ctx.cleanups.append(lambda: remove("container", name))
    proc = docker("run", "--detach", "--name", name, "--network", net, *LIMITS, *args, image, *command)
    if proc.returncode != 0:
        raise Fail(f"docker run {image} failed: {cap(proc.stderr, 400)}")
    return name


def logs(name: str, limit: int = 1500) -> str:
    proc = subprocess.run(
        ["docker", "logs", "--tail", "40", name], capture_output=True, text=True, timeout=30, errors="replace"
    )
    return cap(proc.stdout + proc.stderr, limit)


def wait_healthy(name: str, deadline_s: float) -> float:
    """Seconds until Docker reports the container healthy (its own HEALTHCHECK); Fail on exit or deadline."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        proc = docker(
            "inspect",
            "--format",
            "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
            name,
            timeout=30,
        )
        status, _, health = proc.stdout.strip().partition(" ")
        if health == "healthy":
            return time.monotonic() - start
        if status in ("exited", "dead"):
            raise Fail(f"the container exited before it was healthy; its last output:\n{logs(name)}")
        time.sleep(0.5)
    raise Fail(f"not healthy within {deadline_s:g} s; its last output:\n{logs(name)}")


def wait_exit(name: str, deadline_s: float) -> tuple[int, str]:
    """Exit code and capped output of a container; Fail when it is still running at the deadline."""
    try:
        proc = subprocess.run(["docker", "wait", name], capture_output=True, text=True, timeout=deadline_s)
    except subprocess.TimeoutExpired:
        raise Fail(f"still running after {deadline_s:g} s (an endless loop?); it was stopped") from None
    return int(proc.stdout.strip() or -1), logs(name, 3000)


def remove_run(prefix: str) -> None:
    """Containers and networks left by a run that was stopped, found by their name prefix (Compose v1 drops
    the hyphens of project names, so that spelling is swept too)."""
    names = [f"ahl-grader-{prefix}", f"ahl-grader-{prefix}".replace("-", "")]
    try:
        for kind in ("container", "network"):
            listing = ["docker", "ps", "-a"] if kind == "container" else ["docker", "network", "ls"]
            found = subprocess.run(
                [*listing, "--format", "{{.Names}}" if kind == "container" else "{{.Name}}"],
                capture_output=True, text=True, timeout=30,
            ).stdout.split()  # fmt: skip
            doomed = [n for n in found if n.startswith(tuple(names))]
            if doomed:
                rm = ["docker", "rm", "--force"] if kind == "container" else ["docker", "network", "rm"]
                subprocess.run([*rm, *doomed], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        pass  # no Docker here: nothing can have been started
