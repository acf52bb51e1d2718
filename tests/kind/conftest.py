"""The live kind suite: it creates a cluster (when there is none) and changes what runs in it (deploys the image,
rolls out model version 2), so it runs only when asked: REQUIRE_KIND=1 (CI: a skip is then a failure) or
KIND_TESTS=1 (`make test-kind`). A plain `make test` never starts a cluster, even where kind is installed.

The session fixture brings the cluster up (`scripts/k8s-cluster.sh up`, idempotent) and deploys IMAGE (or, without
it, the image `make image` builds now: a rebuilt `<sha>-dirty` tag must not leave an older build in place), like
`make cluster-up deploy`. A cluster it created is deleted at the end (KEEP_CLUSTER=1 keeps it); one that was there
before stays up.
"""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:30080"


def sh(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run from the repository root with the kind scripts' environment (scripts/k8s-lib.sh picks kind and kubectl
    as the Makefile does); output is kept for the assertion message."""
    base = {"PYTHON": str(ROOT / ".venv" / "bin" / "python"), "RESULTS": str(ROOT / "results" / "kind-tests")}
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **base, **(env or {})}
    )


def in_lib(code: str) -> subprocess.CompletedProcess[str]:
    """Bash code after sourcing scripts/k8s-lib.sh (which kind, which cluster: as the scripts see them)."""
    return sh("bash", "-c", f"set -o errexit -o nounset -o pipefail; source scripts/k8s-lib.sh; {code}", timeout=60)


def _why_not() -> str | None:
    if in_lib('command -v "$KIND"').returncode != 0:
        return "kind is not installed (make kind-node-image builds it into .bin/, or see the README)"
    if shutil.which("docker") is None or sh("docker", "info", timeout=30).returncode != 0:
        return "no Docker engine answers `docker info` (kind runs its nodes as containers)"
    return None


@pytest.fixture(name="sh", scope="session")
def sh_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`sh(*command, env=...)` from the repository root with the kind scripts' environment."""
    return sh


@pytest.fixture(scope="session")
def deployed() -> Iterator[str]:
    """The cluster up and the model server deployed; yields the image deployed."""
    required = os.environ.get("REQUIRE_KIND") == "1"
    if not (required or os.environ.get("KIND_TESTS") == "1"):
        pytest.skip("the live kind suite creates a cluster and deploys to it: KIND_TESTS=1 runs it (make test-kind)")
    reason = _why_not()
    if reason:
        if required:
            pytest.fail(f"REQUIRE_KIND=1 but {reason}")
        pytest.skip(reason)
    created = in_lib("cluster_exists").returncode != 0
    try:
        image = os.environ.get("IMAGE")
        if not image:
            tag = sh("git", "describe", "--always", "--dirty").stdout.strip() or "dev"
            image = f"ai-hosting-labs/model-server:{tag}"
            build = sh("make", "image", f"IMAGE={image}", timeout=1800)  # cached layers: quick when nothing changed
            assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        for step in (["scripts/k8s-cluster.sh", "up"], ["scripts/k8s-deploy.sh"]):
            proc = sh(*step, env={"IMAGE": image})
            assert proc.returncode == 0, f"{step}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        assert httpx.get(f"{TARGET}/v2/health/ready", timeout=5).status_code == 200
        yield image
    finally:
        if created and os.environ.get("KEEP_CLUSTER") != "1":
            down = sh("scripts/k8s-cluster.sh", "down", timeout=300)
            assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
