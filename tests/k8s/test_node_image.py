"""The air-gapped node image's pins (k8s/node-image): one version per component, the Kubernetes wrapper module pinning
every staging module to the matching v0.x.y, and, when the image is built, what kind and kubeadm read from it."""

import re
import subprocess
from pathlib import Path

import pytest

from grader.policies import kubernetes as k8s

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "k8s" / "node-image"
VERSIONS = dict(
    line.split("=", 1) for line in (NODE / "versions.env").read_text().splitlines() if line and not line.startswith("#")
)


def _requires(module: str) -> dict[str, str]:
    text = (NODE / "modules" / module / "go.mod").read_text()
    return dict(re.findall(r"^\s*(?:require\s+)?(\S+) (v\S+)(?: // indirect)?$", text, flags=re.MULTILINE))


def test_one_kubernetes_minor_everywhere() -> None:
    version = VERSIONS["KUBERNETES_VERSION"]
    assert version.startswith("v" + k8s.KUBERNETES_VERSION.rsplit(".", 1)[0] + ".")  # the validation schema
    assert VERSIONS["NODE_IMAGE"].endswith(":" + version)
    assert _requires("kubernetes")["k8s.io/kubernetes"] == version


def test_every_staging_module_is_pinned_to_the_matching_release() -> None:
    text = (NODE / "modules" / "kubernetes" / "go.mod").read_text()
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", text, flags=re.MULTILINE)
    staging = "v0." + VERSIONS["KUBERNETES_VERSION"].removeprefix("v1.")
    assert len(replaces) >= 30
    assert {(old, new, v) for old, new, v in replaces} == {(old, old, staging) for old, _, _ in replaces}


@pytest.mark.parametrize(
    ("module", "path", "key"),
    [
        ("etcd", "go.etcd.io/etcd/server/v3", "ETCD_VERSION"),
        ("coredns", "github.com/coredns/coredns", "COREDNS_VERSION"),
        ("metrics-server", "sigs.k8s.io/metrics-server", "METRICS_SERVER_VERSION"),
        ("cri-tools", "sigs.k8s.io/cri-tools", "CRICTL_VERSION"),
    ],
)
def test_wrapper_modules_build_the_pinned_versions(module: str, path: str, key: str) -> None:
    assert _requires(module)[path] == VERSIONS[key]
    assert (NODE / "modules" / module / "go.sum").is_file()


def test_build_script_is_strict_and_names_its_steps() -> None:
    script = ROOT / "scripts" / "kind-node-image.sh"
    assert "set -o errexit -o nounset -o pipefail" in script.read_text()
    proc = subprocess.run([str(script), "no-such-step"], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert "unknown step 'no-such-step'" in proc.stderr


def _in_node(*command: str) -> str:
    image = VERSIONS["NODE_IMAGE"]
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode != 0:
        pytest.skip(f"{image} is not built here (make kind-node-image)")
    entry, *args = command
    proc = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", entry, image, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_built_node_image_tells_kind_and_kubeadm_the_pinned_version(docker_engine: None) -> None:
    assert _in_node("cat", "/kind/version").strip() == VERSIONS["KUBERNETES_VERSION"]
    assert _in_node("kubeadm", "version", "-o", "short").strip() == VERSIONS["KUBERNETES_VERSION"]


def test_built_node_image_sandbox_is_kubeadms_pause(docker_engine: None) -> None:
    images = _in_node("kubeadm", "config", "images", "list", "--kubernetes-version", VERSIONS["KUBERNETES_VERSION"])
    (pause,) = [line for line in images.split() if "/pause:" in line]
    assert f'sandbox_image = "{pause}"' in _in_node("cat", "/etc/containerd/config.toml")
