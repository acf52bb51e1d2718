"""Every overlay and component renders offline and validates strictly against the pinned Kubernetes version."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.policies import kubernetes as k8s
from loadtest.k8s_quantity import cpu_cores
from model_server.app import create_app
from model_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def test_both_overlays_exist() -> None:
    assert {p.name for p in OVERLAYS} == {"kind", "cloud"}


@pytest.mark.parametrize(
    "folder", [*OVERLAYS, K8S / "base", K8S / "components" / "metrics-server"], ids=lambda p: p.name
)
def test_renders_and_validates_strictly(folder: Path) -> None:
    objects = k8s.render(folder)
    assert objects, f"{folder} rendered nothing"
    assert k8s.validate(objects) == []


def test_custom_metrics_component_renders_in_an_overlay(tmp_path: Path) -> None:
    """The optional component (a kustomize Component) is used from an overlay: render it as a learner would."""
    shutil.copytree(K8S, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "custom"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources: [../kind]\ncomponents: [../../components/custom-metrics]\n")
    objects = k8s.render(overlay)
    assert k8s.validate(objects) == []
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Pods"]
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "model_server_requests_in_flight"
    rules = next(o for o in objects if o["kind"] == "ConfigMap")
    assert "model_server_requests_in_flight" in rules["data"]["config.yaml"]


def test_strict_validation_rejects_an_unknown_field(kind_objects: list[dict]) -> None:
    objects = yaml.safe_load(yaml.safe_dump(kind_objects))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {"limits": {"cpu": "1"}}
    findings = k8s.validate(objects)
    assert [(f.obj, f.check) for f in findings] == [("Deployment/model-server", "schema")]
    assert "resource" in findings[0].message


def test_strict_validation_rejects_a_wrong_type(kind_objects: list[dict]) -> None:
    objects = yaml.safe_load(yaml.safe_dump(kind_objects))
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    hpa["spec"]["minReplicas"] = "two"
    findings = k8s.validate(objects)
    assert [(f.obj, f.field) for f in findings] == [("HorizontalPodAutoscaler/model-server", "spec.minReplicas")]


def test_kind_overlay_image_is_local_and_pinned(kind_objects: list[dict]) -> None:
    container = next(o for o in kind_objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["image"].startswith("ai-hosting-labs/model-server:")
    kustomization = yaml.safe_load((K8S / "overlays" / "kind" / "kustomization.yaml").read_text())
    assert [image.get("newTag") for image in kustomization["images"]] == ["dev"]


def test_cloud_overlay_uses_a_registry_placeholder() -> None:
    objects = k8s.render(K8S / "overlays" / "cloud")
    container = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "REGISTRY/ai-hosting-labs/model-server:TAG"
    assert cpu_cores(container["resources"]["limits"]["cpu"]) == 2


def test_metrics_server_is_pinned_and_configured_for_kind() -> None:
    objects = k8s.render(K8S / "components" / "metrics-server")
    container = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    version = re.fullmatch(r".*/metrics-server:v(\d+)\.(\d+)\.(\d+)", container["image"])
    assert version, container["image"]
    assert tuple(map(int, version.groups())) >= (0, 7, 0)
    assert "--kubelet-insecure-tls" in container["args"]
    assert "--kubelet-preferred-address-types=InternalIP" in container["args"]
    assert {o["kind"] for o in objects} >= {"APIService", "ServiceAccount", "ClusterRole", "Service", "Deployment"}
    assert k8s.check_all(objects) == []  # restricted securityContext, pinned image, Service matches its pods


def test_namespace_enforces_restricted(kind_objects: list[dict]) -> None:
    namespace = next(o for o in kind_objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {o["metadata"].get("namespace") for o in kind_objects if o["kind"] not in ("Namespace", "Cluster")} == {
        namespace["metadata"]["name"]
    }


def test_health_paths_are_routes_the_server_serves(models_dir: Path) -> None:
    paths = create_app(Settings(model_repository=models_dir)).openapi()["paths"]
    assert k8s.LIVE_PATH in paths
    assert k8s.READY_PATH in paths


def test_server_uid_is_the_image_user() -> None:
    dockerfile = (ROOT / "model_server" / "Dockerfile").read_text()
    assert re.search(rf"^USER {k8s.SERVER_UID}(:{k8s.SERVER_UID})?$", dockerfile, re.M)


def test_hpa_behavior_is_explicit(kind_objects: list[dict]) -> None:
    hpa = next(o for o in kind_objects if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert 30 <= hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] <= 120


def test_podspec_cli_says_why_a_folder_does_not_render(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader.ops.podspec", "--overlay", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"podspec: kubectl kustomize {tmp_path} failed:")
    assert "Traceback" not in proc.stderr
