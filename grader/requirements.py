"""Probes for what live checks require; each missing one says which command provides it."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

from grader.spec import REPO_ROOT

BASE_IMAGE = os.environ.get("GRADER_BASE_IMAGE", "ai-hosting-labs/python-base:bookworm-3.11")
SERVER_IMAGE = os.environ.get("GRADER_SERVER_IMAGE", "ai-hosting-labs/model-server:grader")
PROVIDES = {
    "docker": "make docker-engine",
    "compose": "make docker-engine (installs docker-compose)",
    "kind": "make doctor (it says how to install kind), then make cluster-up deploy",
    "base-image": "make base-image",
    "models": "make models",
    "server-image": f"make image IMAGE={SERVER_IMAGE}",
    "wheelhouse": "make wheelhouse",
}


def _ok(*args: str) -> bool:
    try:
        return subprocess.run(args, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@cache
def missing(requirement: str) -> str | None:
    """None when the requirement is met, else what is missing."""
    if requirement == "docker":
        return None if shutil.which("docker") and _ok("docker", "info") else "no Docker engine answers `docker info`"
    if requirement == "compose":
        if shutil.which("docker-compose") or _ok("docker", "compose", "version"):
            return missing("docker")
        return "neither `docker compose` nor `docker-compose` is installed"
    if requirement == "kind":
        from grader.ops.doctor import project_tool  # KIND, .bin/kind, PATH: where the Makefile finds it

        if not project_tool("kind"):
            return "no cluster: kind is not installed"
        from grader.policies.kubernetes import RenderError, kubectl

        try:
            tool = kubectl()
        except RenderError as exc:
            return str(exc)
        return (
            None
            if _ok(tool, "--context", "kind-ai-hosting-labs", "get", "nodes")
            else "no cluster: no kind cluster answers"
        )
    if requirement == "base-image":
        return _image_present(BASE_IMAGE)
    if requirement == "server-image":
        return _image_present(SERVER_IMAGE)
    if requirement == "wheelhouse":
        return (
            None if (REPO_ROOT / "wheelhouse" / ".built").exists() else "no wheelhouse/ (offline image builds need it)"
        )
    if requirement == "models":
        built = list((REPO_ROOT / "models").glob("*/*/model.onnx"))
        return None if built else "the model repository models/ is not built"
    raise ValueError(f"unknown requirement {requirement}")


def _image_present(image: str) -> str | None:
    return missing("docker") or (None if _ok("docker", "image", "inspect", image) else f"no image {image}")
