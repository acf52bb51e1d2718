"""Shared fixtures: the built model repository, real server processes on free loopback ports, the Docker engine
and the server image.

No engine: Docker tests skip with the reason, unless REQUIRE_DOCKER=1, where they fail (CI).
"""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader import requirements
from grader.settings import get_settings
from loadtest.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs two pytest-xdist workers (--dist loadgroup). The tests that use the Docker engine or kind
    all go to one worker, one after another as without xdist: they share the engine's images, names and the
    grader's run ids, and some check that nothing of theirs is left. The others spread over both workers."""
    for item in items:
        if {"docker", "kind"} & {m.name for m in item.iter_markers()} or "docker_engine" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("docker"))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not (MODELS / "minilm" / "1" / "model.json").is_file():
        pytest.fail("the model repository is missing: run `make models` (make test does it for you)")
    return MODELS


@pytest.fixture
def start_server(models_dir: Path, tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start `python -m model_server` with extra flags; every server started is stopped by its PID at the end."""
    started: list[LocalServer] = []

    def start(*args: str) -> LocalServer:
        server = LocalServer(
            models_dir, ["--drain-seconds", "0", *args], log_path=tmp_path / f"server-{len(started)}.log"
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def require_docker(problem: str) -> None:
    """Skip with the reason, or fail when REQUIRE_DOCKER=1 (CI: a skipped Docker test is a failure there)."""
    hint = f"{problem}: run scripts/ci-docker.sh (installs and starts one)"
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {hint}")
    pytest.skip(hint)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if shutil.which("docker") is None:
        require_docker("the docker CLI is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        require_docker("no Docker engine answers `docker info`")


@pytest.fixture(scope="session")
def server_image(docker_engine: None, models_dir: Path) -> str:
    """The model-server image, built once per session from this tree through the script `make image` uses, under
    the tag the grader's live checks run (so they test this tree, never an image an earlier run left behind). The
    offline path builds the base image too. Docker's layer cache makes the build of an unchanged tree take seconds;
    the image is kept: it is the one `make check` uses."""
    image = get_settings().server_image
    build = subprocess.run(
        [str(ROOT / "scripts" / "docker-image.sh"), image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHON": str(ROOT / ".venv" / "bin" / "python")},
        check=False,
    )
    assert build.returncode == 0, f"building {image} failed:\n{build.stdout[-2000:]}\n{build.stderr[-2000:]}"
    requirements.missing.cache_clear()  # a probe made before the build must not stay cached as "missing"
    return image
