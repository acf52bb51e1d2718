"""Kubernetes manifests as the policies read them: rendered (`kubectl kustomize`), loaded, validated strictly with
kubernetes-validate, and walked (object names, workloads, containers, the model server's settings and ports).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from grader import programs, safeyaml
from grader.policies.findings import Finding
from model_server.config import Settings

# The version the kind workflow's node image runs (.github/workflows/labs-e2e.yml): manifests are validated
# against its API schemas.
KUBERNETES_VERSION = "1.33.0"
SERVER_IMAGE = "ai-hosting-labs/model-server"
# model_server/Dockerfile: `USER 10001:10001`, the user that owns nothing but can read /models.
SERVER_UID = 10001
# The routes model_server/api_v2.py serves for the kubelet (tests/k8s checks they are real routes).
LIVE_PATH = "/v2/health/live"
READY_PATH = "/v2/health/ready"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
DEFAULT_GRACE_S = 30  # the API server's default terminationGracePeriodSeconds

Objects = list[dict[str, Any]]


# ---- rendering and strict validation --------------------------------------------------------------------------------


class RenderError(RuntimeError):
    """kubectl is missing, or kustomize refused the folder."""


def render(overlay_dir: str | Path) -> Objects:
    """`kubectl kustomize overlay_dir`, parsed: one dict per rendered object."""
    try:
        tool = programs.kubectl()
    except programs.MissingProgram as exc:
        raise RenderError(str(exc)) from None
    proc = subprocess.run(
        [tool, "kustomize", str(overlay_dir)], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RenderError(f"kubectl kustomize {overlay_dir} failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def load_yaml(path: str | Path) -> Objects:
    """Every document of a YAML file (a manifest, a fixture, the kind cluster config)."""
    return [doc for doc in safeyaml.load_all(Path(path).read_text()) if doc]


def validate(objects: Objects, kubernetes_version: str = KUBERNETES_VERSION) -> list[Finding]:
    """Strict schema validation (unknown fields are errors) of each Kubernetes object; kind's config is skipped."""
    import kubernetes_validate  # a dev dependency: the policy checks alone do not need it

    findings = []
    for obj in objects:
        if str(obj.get("apiVersion", "")).startswith("kind.x-k8s.io"):
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path) or "(root)"
            findings.append(Finding("schema", obj_name(obj), where, f"{err.message} (Kubernetes {kubernetes_version})"))
        except kubernetes_validate.SchemaNotFoundError as err:
            findings.append(Finding("schema", obj_name(obj), "apiVersion", err.message))
    return findings


# ---- helpers over objects -------------------------------------------------------------------------------------------


def obj_name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def namespace(obj: dict[str, Any]) -> str | None:
    return obj.get("metadata", {}).get("namespace")


def workloads(objects: Objects) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o.get("kind") in WORKLOAD_KINDS)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload.get("spec", {}).get("template", {}).get("spec", {}) or {}


def containers(workload: dict[str, Any], init: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, container) of each container, and of the init containers when `init`."""
    groups = ("initContainers", "containers") if init else ("containers",)
    for group in groups:
        for i, container in enumerate(pod_spec(workload).get(group) or []):
            yield f"spec.template.spec.{group}[{i}]", container


def image_repository(image: str) -> str:
    """The image name without tag or digest: "r.example/a/b:1" -> "r.example/a/b"."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def is_model_server(container: dict[str, Any]) -> bool:
    return image_repository(str(container.get("image", ""))).endswith(SERVER_IMAGE)


def server_setting(container: dict[str, Any], name: str) -> Any:
    """A server setting as the container will see it: a --flag in command/args wins, then MODEL_SERVER_<NAME>,
    then the server's default (model_server.config.Settings)."""
    flag = "--" + name.replace("_", "-")
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
    for var in container.get("env") or []:
        if var.get("name") == f"MODEL_SERVER_{name.upper()}" and "value" in var:
            return var["value"]
    return Settings.model_fields[name].default


def hpa_targets(objects: Objects) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(hpa, the object its scaleTargetRef names, or None)."""
    for hpa in (o for o in objects if o.get("kind") == "HorizontalPodAutoscaler"):
        ref = hpa.get("spec", {}).get("scaleTargetRef", {})
        target = next(
            (
                o
                for o in objects
                if o.get("kind") == ref.get("kind")
                and o.get("metadata", {}).get("name") == ref.get("name")
                and namespace(o) == namespace(hpa)
                and str(o.get("apiVersion", "")).split("/")[0] == str(ref.get("apiVersion", "")).split("/")[0]
            ),
            None,
        )
        yield hpa, target


def selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_number(port: Any, container: dict[str, Any]) -> int | None:
    """A probe's or Service's port (number or name) as a container port number; None when the name is unknown."""
    if isinstance(port, int):
        return port
    if str(port).isdigit():
        return int(port)
    return next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)


def prestop_seconds(container: dict[str, Any]) -> float | None:
    """Seconds the preStop hook waits: `sleep N` (exec, or through sh -c) or the sleep action; None if unknown."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"].get("seconds", 0))
    command = " ".join(str(a) for a in (pre_stop.get("exec") or {}).get("command") or [])
    match = re.search(r"(?:^|[\s/])sleep\s+(\d+(?:\.\d+)?)", command)
    return float(match.group(1)) if match else None
