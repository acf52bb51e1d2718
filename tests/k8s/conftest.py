"""Fixtures for the offline Kubernetes tests: the rendered reference overlays and the kind cluster config."""

from pathlib import Path

import pytest

from grader.policies import kubernetes as k8s

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"


@pytest.fixture(scope="session")
def kind_config() -> list[dict]:
    return k8s.load_yaml(K8S / "kind-cluster.yaml")


@pytest.fixture(scope="session")
def kind_objects(kind_config: list[dict]) -> list[dict]:
    """The kind overlay, rendered, with the kind cluster config (the NodePort check reads it)."""
    return k8s.render(K8S / "overlays" / "kind") + kind_config
