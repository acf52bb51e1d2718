"""Live on kind: the Deployment serves through the NodePort, and neither a pod deletion nor a rollout loses a
request. The HPA under load is lab 05's live run (`make e2e E2E_LABS=05` with a cluster up, as CI does): it records
the step load's replica timeline and the grader's hpa.observed holds it to the what-if tool's prediction."""

import subprocess
from collections.abc import Callable

import httpx
import pytest

from loadtest.payloads import digits_v2_body

TARGET = "http://127.0.0.1:30080"

pytestmark = [pytest.mark.kind, pytest.mark.slow]

Shell = Callable[..., subprocess.CompletedProcess[str]]


def test_serves_through_the_nodeport(deployed: str) -> None:
    body = digits_v2_body([[0.0] * 64])
    response = httpx.post(f"{TARGET}/v2/models/digits/infer", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_pod_deletion_loses_no_request(deployed: str, sh: Shell) -> None:
    proc = sh("scripts/k8s-chaos.sh", env={"DURATION": "60"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "failed requests: 0" in proc.stdout


def digits_versions(count: int) -> set[str]:
    """The versions answering `count` unversioned digits requests, each on its own connection (over the pods)."""
    body = digits_v2_body([[0.0] * 64])
    return {
        httpx.post(f"{TARGET}/v2/models/digits/infer", json=body, timeout=10).json()["model_version"]
        for _ in range(count)
    }


def test_rollout_to_model_version_2_loses_no_request(deployed: str, sh: Shell) -> None:
    # The deploy applied k8s/base, which pins digits to version 1 (MODEL_SERVER_DEFAULT_VERSIONS).
    assert httpx.get(f"{TARGET}/v2/models/digits", timeout=10).json()["parameters"]["version"] == "1"
    assert digits_versions(10) == {"1"}
    proc = sh("scripts/k8s-rollout.sh", env={"DURATION": "150"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "failed requests during the rollout: 0" in proc.stdout
    assert "were answered by version 2" in proc.stdout
    assert digits_versions(20) == {"2"}
    assert httpx.get(f"{TARGET}/v2/models/digits", timeout=10).json()["parameters"]["version"] == "2"
