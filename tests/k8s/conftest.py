"""Fixtures for the offline Kubernetes tests: the rendered reference overlays and the kind cluster config."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.checks import kubernetes as k8s

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"


@pytest.fixture(scope="session")
def kind_config() -> list[dict]:
    return k8s.load_yaml(K8S / "kind-cluster.yaml")


@pytest.fixture(scope="session")
def kind_objects(kind_config: list[dict]) -> list[dict]:
    """The kind overlay, rendered, with the kind cluster config (the NodePort check reads it)."""
    return k8s.render(K8S / "overlays" / "kind") + kind_config


def _docker_ok() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        return "no Docker engine answers `docker info`"
    return None


@pytest.fixture(scope="session")
def server_image(models_dir: Path) -> Iterator[str]:
    """The model-server image: reused when there is one of this session, else built once through the script
    `make image` uses, under a tag of this session that is removed at the end (the layers stay cached)."""
    problem = _docker_ok()
    if problem:
        hint = f"{problem}: run scripts/ci-docker.sh (installs and starts one)"
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but {hint}")
        pytest.skip(hint)
    # DOCKER_TEST_IMAGE, or the image tests/docker built in this same session (same script, same tree): one build.
    docker_suite_image = f"ai-hosting-labs/model-server:aihl-pytest-{os.getpid()}"
    reuse = os.environ.get("DOCKER_TEST_IMAGE")
    if (
        not reuse
        and subprocess.run(["docker", "image", "inspect", docker_suite_image], capture_output=True).returncode == 0
    ):
        reuse = docker_suite_image
    if reuse:
        yield reuse
        return
    image = f"ai-hosting-labs/model-server:ahl-k8s-{os.getpid()}"
    build = subprocess.run(
        [str(ROOT / "scripts" / "docker-image.sh"), image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHON": str(ROOT / ".venv" / "bin" / "python")},
        check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    yield image
    subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)
