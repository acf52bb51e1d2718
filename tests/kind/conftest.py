"""The live kind suite: runs where kind and a Docker engine exist (learners' machines, the GitHub Actions workflow
.github/workflows/labs-e2e.yml); elsewhere it skips and says why, unless REQUIRE_KIND=1 (then it fails).

The session fixture brings the cluster up (`scripts/k8s-cluster.sh up`, idempotent) and deploys the image built by
`make image` (IMAGE, or the git-describe tag), like `make cluster-up deploy`. The cluster is left up for the next
run; `make cluster-down` removes it.
"""

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:30080"


def sh(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run from the repository root with the kind scripts' environment; output is kept for the assertion message."""
    kubectl = ROOT / ".venv" / "bin" / "kubectl"
    base = {"PYTHON": str(ROOT / ".venv" / "bin" / "python"), "RESULTS": str(ROOT / "results" / "kind-tests")}
    if kubectl.is_file():
        base["KUBECTL"] = str(kubectl)
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **base, **(env or {})}
    )


def _why_not() -> str | None:
    if shutil.which("kind") is None:
        return (
            "kind is not installed (it and the kindest/node image cannot be obtained offline); "
            "the GitHub workflow labs-e2e runs this suite"
        )
    if shutil.which("docker") is None or sh("docker", "info", timeout=30).returncode != 0:
        return "no Docker engine answers `docker info` (kind runs its nodes as containers)"
    return None


@pytest.fixture(name="sh", scope="session")
def sh_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`sh(*command, env=...)` from the repository root with the kind scripts' environment."""
    return sh


@pytest.fixture(scope="session")
def deployed() -> str:
    """The cluster up and the model server deployed; returns the image deployed."""
    reason = _why_not()
    if reason:
        if os.environ.get("REQUIRE_KIND") == "1":
            pytest.fail(f"REQUIRE_KIND=1 but {reason}")
        pytest.skip(reason)
    tag = sh("git", "describe", "--always", "--dirty").stdout.strip() or "dev"
    image = os.environ.get("IMAGE", f"ai-hosting-labs/model-server:{tag}")
    if sh("docker", "image", "inspect", image).returncode != 0:
        build = sh("make", "image", f"IMAGE={image}", timeout=1800)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    for step in (["scripts/k8s-cluster.sh", "up"], ["scripts/k8s-deploy.sh"]):
        proc = sh(*step, env={"IMAGE": image})
        assert proc.returncode == 0, f"{step}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    assert httpx.get(f"{TARGET}/v2/health/ready", timeout=5).status_code == 200
    return image
