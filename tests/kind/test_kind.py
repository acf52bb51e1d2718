"""Live on kind: the Deployment serves through the NodePort, the HPA scales out under a step load and back in,
and neither a pod deletion nor a rollout loses a request."""

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from loadtest.payloads import digits_v2_body

ROOT = Path(__file__).resolve().parents[2]
TARGET = "http://127.0.0.1:30080"

pytestmark = [pytest.mark.kind, pytest.mark.slow]

# Stated times (k8s/base/hpa.yaml): scale-up has no stabilization and syncs every 15 s, a new pod is ready in
# under a minute; scale-down waits 60 s of stabilization, then halves the pods every 30 s (6 -> 3 -> 2).
Shell = Callable[..., subprocess.CompletedProcess[str]]
SCALE_UP_WITHIN_S = 240
SCALE_DOWN_WITHIN_S = 240
MIN_REPLICAS = yaml.safe_load((ROOT / "k8s" / "base" / "hpa.yaml").read_text())["spec"]["minReplicas"]


def hpa_status(sh: Shell) -> dict:
    proc = sh("bash", "-c", "source scripts/k8s-lib.sh && kn get hpa model-server -o json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["status"]


def test_serves_through_the_nodeport(deployed: str) -> None:
    body = digits_v2_body([[0.0] * 64])
    response = httpx.post(f"{TARGET}/v2/models/digits/infer", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_hpa_scales_out_under_step_load_then_back_in(deployed: str, sh: Shell, tmp_path: Path) -> None:
    load = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "loadtest", "run", "--host", TARGET, "--profile", "digits",
         "--shape", "step", "--users", "40", "--duration", str(SCALE_UP_WITHIN_S), "--no-slo",
         "--out", str(tmp_path / "load")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        start, peak = time.monotonic(), 0
        while time.monotonic() - start < SCALE_UP_WITHIN_S and peak < 3:
            peak = max(peak, hpa_status(sh).get("currentReplicas", 0))
            time.sleep(5)
        assert peak >= 3, f"the HPA reached {peak} replicas within {SCALE_UP_WITHIN_S} s of the step load"
    finally:
        load.wait(timeout=SCALE_UP_WITHIN_S + 60)
    start = time.monotonic()
    while time.monotonic() - start < SCALE_DOWN_WITHIN_S:
        if hpa_status(sh).get("currentReplicas") == MIN_REPLICAS:
            break
        time.sleep(5)
    assert hpa_status(sh).get("currentReplicas") == MIN_REPLICAS, (
        f"not back to {MIN_REPLICAS} in {SCALE_DOWN_WITHIN_S} s"
    )


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
