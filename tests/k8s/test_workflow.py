"""The GitHub Actions workflow that runs the kind suite: valid against the workflow schema (offline), and it runs
what it says (make test, the kind suite with REQUIRE_KIND=1) on the Kubernetes version the manifests are
validated against."""

import subprocess
import sys
from pathlib import Path

import yaml

from grader.policies import kubernetes as k8s

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "labs-e2e.yml"
VERSIONS = ROOT / "k8s" / "node-image" / "versions.env"


def test_workflow_is_valid_against_the_github_schema() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_suites_on_the_pinned_kubernetes() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "make test" in steps
    kind_step = next(s for job in workflow["jobs"].values() for s in job["steps"] if "tests/kind" in s.get("run", ""))
    assert kind_step["env"]["REQUIRE_KIND"] == "1"
    versions = dict(
        line.split("=", 1) for line in VERSIONS.read_text().splitlines() if line and not line.startswith("#")
    )
    minor = k8s.KUBERNETES_VERSION.rsplit(".", 1)[0]
    for node in (versions["KINDEST_NODE_IMAGE"], versions["NODE_IMAGE"]):
        assert node.split(":v")[1].rsplit(".", 1)[0] == minor, node
    assert versions["KUBERNETES_VERSION"].startswith(f"v{minor}.")
    assert "@sha256:" in versions["KINDEST_NODE_IMAGE"]


def test_workflow_needs_no_registry_variable() -> None:
    # Forks and fresh copies have no repository variables: metrics-server is built from its Go module instead.
    text = WORKFLOW.read_text()
    assert "vars." not in text
    assert "scripts/kind-node-image.sh metrics-server" in text
