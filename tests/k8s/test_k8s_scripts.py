"""The live-workflow scripts without a cluster: they parse, and each guard says what is missing and how to fix it."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("k8s-*.sh"))
NO_KIND = {"KIND": "kind-is-not-installed-here", "KUBECTL": str(ROOT / ".venv" / "bin" / "kubectl")}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, **env}, check=False
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_is_strict(script: Path) -> None:
    assert run("bash", "-n", str(script), env={}).returncode == 0
    if script.name != "k8s-lib.sh":  # sourced, not run
        assert "set -o errexit -o nounset -o pipefail" in script.read_text()
        assert os.access(script, os.X_OK)


@pytest.mark.parametrize(
    "command",
    [
        ["scripts/k8s-cluster.sh", "up"],
        ["scripts/k8s-cluster.sh", "down"],
        ["scripts/k8s-chaos.sh"],
        ["scripts/k8s-rollout.sh"],
        ["scripts/k8s-loadtest.sh"],
        ["scripts/k8s-hpa-watch.sh", "/dev/null", "5"],
    ],
    ids=lambda c: " ".join(c)[8:],
)
def test_missing_kind_is_said_with_how_to_install(command: list[str]) -> None:
    proc = run(*command, env=NO_KIND)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("k8s: kind not found: install it from https://kind.sigs.k8s.io/")


@pytest.mark.parametrize("image", ["ai-hosting-labs/model-server:latest", "ai-hosting-labs/model-server"])
def test_deploy_refuses_latest_or_untagged(image: str) -> None:
    proc = run("scripts/k8s-deploy.sh", env={**NO_KIND, "IMAGE": image})
    assert proc.returncode == 1
    assert "use a pinned tag, never :latest" in proc.stderr
