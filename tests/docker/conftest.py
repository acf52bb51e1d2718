"""Docker fixtures: containers and a Compose project that the tests own, from the session's server image
(tests/conftest.py). Everything created carries the `aihl-pytest-<pid>` prefix and is removed at the end, by name;
nothing else on the engine is touched."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loadtest.local_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"aihl-pytest-{os.getpid()}"


def run(
    *args: str, check: bool = True, timeout: float = 600, env: dict | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess:
    """Run a command from the repository root; on failure the error shows its output."""
    proc = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input_text,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def wait_ready(url: str, timeout: float = 90) -> float:
    """Seconds until GET url answers 200; fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s")


@pytest.fixture(name="run", scope="session")
def run_fixture() -> Callable[..., subprocess.CompletedProcess]:
    """`run(*command, check=True, env=..., input_text=...)` from the repository root."""
    return run


@pytest.fixture(name="wait_ready", scope="session")
def wait_ready_fixture() -> Callable[..., float]:
    """`wait_ready(url)`: seconds until the URL answers 200."""
    return wait_ready


@dataclass
class Container:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        proc = run("docker", "logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def inspect(self) -> dict:
        return json.loads(run("docker", "inspect", self.name).stdout)[0]


@pytest.fixture
def start_container(server_image: str) -> Iterator[Callable[..., Container]]:
    """`docker run` the server image (published on a free loopback port); removed at the end."""
    names: list[str] = []

    def start(*docker_args: str) -> Container:
        name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
        port = free_port()
        names.append(name)
        run(
            "docker",
            "run",
            "--detach",
            "--name",
            name,
            "--publish",
            f"127.0.0.1:{port}:8000",
            *docker_args,
            server_image,
        )
        return Container(name, port)

    yield start
    for name in names:
        run("docker", "rm", "--force", "--volumes", name, check=False)


@dataclass
class ComposeStack:
    project: str
    lb_port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def script(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run(*args, env=self.env, timeout=timeout)

    def containers(self, service: str) -> list[str]:
        out = run(
            "docker",
            "ps",
            "--quiet",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ).stdout
        return out.split()

    def ip(self, container: str) -> str:
        networks = json.loads(run("docker", "inspect", container).stdout)[0]["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]


@pytest.fixture(scope="module")
def compose_stack(server_image: str) -> Iterator[ComposeStack]:
    """2 model-server replicas + nginx under a project of our own; `down` removes exactly it."""
    project = PREFIX
    tag = server_image.rsplit(":", 1)[1]
    env = {
        "IMAGE": server_image,
        "COMPOSE_PROJECT": project,
        "LB_PORT": str(free_port()),
        "PYTHON": str(ROOT / ".venv/bin/python"),
    }
    stack = ComposeStack(project, int(env["LB_PORT"]), env)
    try:
        stack.script(str(ROOT / "scripts/compose.sh"), "up", "2")
        yield stack
    finally:
        run(str(ROOT / "scripts/compose.sh"), "down", env=env, check=False)
        run("docker", "image", "rm", f"ai-hosting-labs/lb:{tag}", check=False)
