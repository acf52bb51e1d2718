"""Kubernetes policy checks: pure functions over rendered objects (the dicts of `kubectl kustomize` output).

Each `check_<name>(objects) -> list[Finding]` returns one Finding per problem, naming the object and the
field; an empty list is a pass. The tests (tests/k8s), the grader's lab checks and `make doctor` call the
same functions. Reading the objects (render, load_yaml, validate) and walking them: grader.policies.manifests,
whose public names this module re-exports so that one import serves a caller.

The model-server rules (probe paths, drain, threads, UID) apply to containers that run the model-server
image; the generic rules (securityContext, image tags, HPA, Service) to every workload given.
The kind NodePort rule needs the kind cluster config among the objects (`load_yaml("k8s/kind-cluster.yaml")`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from grader.policies import manifests
from grader.policies.findings import Finding
from grader.policies.manifests import (
    DEFAULT_GRACE_S,
    LIVE_PATH,
    READY_PATH,
    SERVER_UID,
    Objects,
    containers,
    hpa_targets,
    is_model_server,
    namespace,
    obj_name,
    pod_spec,
    port_number,
    prestop_seconds,
    selects,
    server_setting,
    workloads,
)
from loadtest.k8s_quantity import cpu_cores

# Re-exported: the tests and tools that apply the rules read the objects through this one module.
KUBERNETES_VERSION, RenderError = manifests.KUBERNETES_VERSION, manifests.RenderError
render, load_yaml, validate = manifests.render, manifests.load_yaml, manifests.validate
image_repository = manifests.image_repository


def check_requests(objects: Objects) -> list[Finding]:
    """Every container of a workload an HPA scales has CPU and memory requests (utilization is relative to them)."""
    findings = []
    for _hpa, target in hpa_targets(objects):
        if target is None:
            continue
        for path, container in containers(target):
            requests = (container.get("resources") or {}).get("requests") or {}
            for resource in ("cpu", "memory"):
                if not requests.get(resource):
                    findings.append(
                        Finding(
                            "requests",
                            obj_name(target),
                            f"{path}.resources.requests.{resource}",
                            f"container {container.get('name')!r} has no {resource} request, but an HPA scales this "
                            f"workload: its utilization is measured against the request (HPA shows <unknown>)",
                        )
                    )
    return findings


def check_no_replicas(objects: Objects) -> list[Finding]:
    """A workload an HPA scales does not set spec.replicas (every apply would reset the HPA's scale)."""
    return [
        Finding(
            "no_replicas",
            obj_name(target),
            "spec.replicas",
            "spec.replicas is set on a workload the HPA scales: every `kubectl apply` resets the scale; remove it",
        )
        for _hpa, target in hpa_targets(objects)
        if target is not None and "replicas" in target.get("spec", {})
    ]


def check_probes(objects: Objects) -> list[Finding]:
    """Model-server containers have startup, readiness and liveness probes on the v2 health paths and the port
    the server listens on (readiness on /ready, which turns 503 while draining; liveness on /live)."""
    expected = {
        "startupProbe": {READY_PATH, LIVE_PATH},
        "readinessProbe": {READY_PATH},
        "livenessProbe": {LIVE_PATH},
    }
    findings = []
    for workload in workloads(objects):
        for path, container in containers(workload):
            if not is_model_server(container):
                continue
            listen = int(server_setting(container, "port"))
            declared = {p.get("containerPort") for p in container.get("ports") or []}
            if listen not in declared:
                findings.append(
                    Finding(
                        "probes",
                        obj_name(workload),
                        f"{path}.ports",
                        f"the server listens on {listen} but the container declares ports {sorted(declared)}",
                    )
                )
            for probe_name, paths in expected.items():
                probe = container.get(probe_name)
                where = f"{path}.{probe_name}"
                if not probe:
                    findings.append(Finding("probes", obj_name(workload), where, f"no {probe_name}"))
                    continue
                get = probe.get("httpGet")
                if not get:
                    findings.append(
                        Finding("probes", obj_name(workload), where, "not an httpGet probe on the v2 health endpoints")
                    )
                    continue
                if get.get("path") not in paths:
                    findings.append(
                        Finding(
                            "probes",
                            obj_name(workload),
                            f"{where}.httpGet.path",
                            f"path {get.get('path')!r} is not {' or '.join(sorted(paths))}",
                        )
                    )
                port = port_number(get.get("port"), container)
                if port != listen:
                    findings.append(
                        Finding(
                            "probes",
                            obj_name(workload),
                            f"{where}.httpGet.port",
                            f"port {get.get('port')!r} resolves to {port}, but the server listens on {listen}",
                        )
                    )
                if str(get.get("scheme", "HTTP")).upper() != "HTTP":
                    findings.append(
                        Finding("probes", obj_name(workload), f"{where}.httpGet.scheme", "the server speaks plain HTTP")
                    )
    return findings


def check_security_context(objects: Objects) -> list[Finding]:
    """The Pod Security `restricted` profile, plus a read-only root with an emptyDir /tmp; for the model server also
    its image's fixed UID and no service-account token."""
    findings = []
    for workload in workloads(objects):
        name, pod = obj_name(workload), pod_spec(workload)
        pod_sc = pod.get("securityContext") or {}
        model_server = any(is_model_server(c) for _, c in containers(workload))
        if model_server and pod.get("automountServiceAccountToken") is not False:
            findings.append(
                Finding(
                    "security_context",
                    name,
                    "spec.template.spec.automountServiceAccountToken",
                    "must be false: the server never calls the Kubernetes API, so it needs no token",
                )
            )
        for path, container in containers(workload, init=True):
            sc = container.get("securityContext") or {}

            def bad(field: str, message: str, path: str = path, name: str = name) -> None:
                findings.append(Finding("security_context", name, f"{path}.securityContext.{field}", message))

            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                bad("runAsNonRoot", "runAsNonRoot must be true (container or pod securityContext)")
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if uid is None or uid == 0:
                bad("runAsUser", "set a fixed non-root UID")
            elif is_model_server(container) and uid != SERVER_UID:
                bad("runAsUser", f"UID {uid} is not the image's user {SERVER_UID} (model_server/Dockerfile)")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad("allowPrivilegeEscalation", "allowPrivilegeEscalation must be false")
            if sc.get("privileged"):
                bad("privileged", "privileged containers are refused by the restricted profile")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                bad("capabilities.drop", 'capabilities.drop must include "ALL"')
            if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                bad("capabilities.add", "only NET_BIND_SERVICE may be added under the restricted profile")
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                bad("seccompProfile.type", "seccompProfile.type must be RuntimeDefault (container or pod)")
            if sc.get("readOnlyRootFilesystem") is not True:
                bad("readOnlyRootFilesystem", "readOnlyRootFilesystem must be true (write only to an emptyDir)")
            elif is_model_server(container) and not _tmp_is_empty_dir(pod, container):
                findings.append(
                    Finding(
                        "security_context",
                        name,
                        f"{path}.volumeMounts",
                        "a read-only root needs a writable /tmp: mount an emptyDir volume at /tmp",
                    )
                )
    return findings


def _tmp_is_empty_dir(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    empty_dirs = {v.get("name") for v in pod.get("volumes") or [] if "emptyDir" in v}
    return any(
        m.get("mountPath") == "/tmp" and m.get("name") in empty_dirs for m in container.get("volumeMounts") or []
    )


def check_image_tags(objects: Objects) -> list[Finding]:
    """Every image names a tag (or digest) and the tag is not :latest (which moves, and defeats IfNotPresent)."""
    findings = []
    for workload in workloads(objects):
        for path, container in containers(workload, init=True):
            image = str(container.get("image", ""))
            last = image.split("@", 1)[0].rsplit("/", 1)[-1]
            if "@" in image:
                continue
            if ":" not in last:
                message = f"image {image!r} has no tag, so it means :latest; pin a version"
            elif last.endswith(":latest"):
                message = f"image {image!r} is :latest; pin a version (a moving tag breaks rollouts and kind load)"
            else:
                continue
            findings.append(Finding("image_tags", obj_name(workload), f"{path}.image", message))
    return findings


def check_hpa_target(objects: Objects) -> list[Finding]:
    """Each HPA's scaleTargetRef names an object (kind, name, API group, namespace) that is rendered."""
    findings = []
    for hpa, target in hpa_targets(objects):
        if target is None:
            ref = hpa.get("spec", {}).get("scaleTargetRef", {})
            findings.append(
                Finding(
                    "hpa_target",
                    obj_name(hpa),
                    "spec.scaleTargetRef",
                    f"{ref.get('apiVersion')} {ref.get('kind')}/{ref.get('name')} is not among the rendered objects",
                )
            )
    return findings


def check_service(objects: Objects) -> list[Finding]:
    """Each Service's selector matches a workload's pod labels, and each targetPort is a port of those pods."""
    findings = []
    for service in (o for o in objects if o.get("kind") == "Service"):
        spec = service.get("spec", {})
        selector = spec.get("selector") or {}
        selected = [
            w
            for w in workloads(objects)
            if namespace(w) == namespace(service)
            and selects(selector, w.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {})
        ]
        if not selected:
            findings.append(
                Finding(
                    "service",
                    obj_name(service),
                    "spec.selector",
                    f"selector {selector} matches no workload's pod labels: the Service has no endpoints",
                )
            )
            continue
        pod_containers = [c for w in selected for _, c in containers(w)]
        for i, port in enumerate(spec.get("ports") or []):
            target = port.get("targetPort", port.get("port"))
            if not any(
                port_number(target, c) in {p.get("containerPort") for p in c.get("ports") or []} for c in pod_containers
            ):
                findings.append(
                    Finding(
                        "service",
                        obj_name(service),
                        f"spec.ports[{i}].targetPort",
                        f"targetPort {target!r} is not a container port of the selected pods",
                    )
                )
    return findings


def check_nodeport(objects: Objects) -> list[Finding]:
    """With a kind cluster config among the objects: every NodePort Service's nodePort is set and mapped by an
    extraPortMapping to 127.0.0.1 (loopback only), so load reaches the Service, not a port-forward."""
    clusters = [o for o in objects if o.get("kind") == "Cluster" and "kind.x-k8s.io" in str(o.get("apiVersion"))]
    if not clusters:
        return []
    mappings = {
        m.get("containerPort"): m
        for cluster in clusters
        for node in cluster.get("nodes") or []
        for m in node.get("extraPortMappings") or []
    }
    findings = []
    for service in (o for o in objects if o.get("kind") == "Service" and o.get("spec", {}).get("type") == "NodePort"):
        for i, port in enumerate(service["spec"].get("ports") or []):
            where = f"spec.ports[{i}].nodePort"
            node_port = port.get("nodePort")
            mapping = mappings.get(node_port)
            if node_port is None:
                message = "no fixed nodePort: Kubernetes picks a random one that kind's port mapping cannot know"
            elif mapping is None:
                message = f"nodePort {node_port} is not an extraPortMappings containerPort in the kind config"
            elif mapping.get("listenAddress") != "127.0.0.1":
                message = f"kind maps {node_port} on {mapping.get('listenAddress', '0.0.0.0')}, not 127.0.0.1 only"
            else:
                continue
            findings.append(Finding("nodeport", obj_name(service), where, message))
    return findings


def check_drain(objects: Objects) -> list[Finding]:
    """preStop sleep + the server's drain + its longest request stay below terminationGracePeriodSeconds, so the
    kubelet never SIGKILLs a pod that is still answering."""
    findings = []
    for workload in workloads(objects):
        grace = pod_spec(workload).get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
        for path, container in containers(workload):
            if not is_model_server(container):
                continue
            pre_stop = prestop_seconds(container)
            if pre_stop is None:
                findings.append(
                    Finding(
                        "drain",
                        obj_name(workload),
                        f"{path}.lifecycle.preStop",
                        "no preStop `sleep N`: the pod gets SIGTERM while Services may still route to it",
                    )
                )
                continue
            drain = float(server_setting(container, "drain_seconds"))
            # After the drain the server waits this long for requests in flight (model_server/serve.py:
            # uvicorn's timeout_graceful_shutdown = ceil(max(request_timeout_s, 1))), then exits.
            longest = math.ceil(max(float(server_setting(container, "request_timeout_s")), 1.0))
            total = pre_stop + drain + longest
            if total >= grace:
                findings.append(
                    Finding(
                        "drain",
                        obj_name(workload),
                        "spec.template.spec.terminationGracePeriodSeconds",
                        f"{grace} s is not more than preStop {pre_stop:g} s + drain {drain:g} s + longest request "
                        f"{longest:g} s = {total:g} s: requests in flight would be killed",
                    )
                )
    return findings


def _cpu_limit(container: dict[str, Any]) -> float | None:
    """The container's CPU limit in cores; None when unset or not a quantity."""
    value = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    try:
        return None if value is None else cpu_cores(value)
    except ValueError:
        return None


def check_threads(objects: Objects) -> list[Finding]:
    """The model server has a CPU limit (it sizes onnxruntime's thread pool from the cgroup quota) and any explicit
    intra-op thread count fits within it (more threads than CPUs only contend)."""
    findings = []
    for workload in workloads(objects):
        for path, container in containers(workload):
            if not is_model_server(container):
                continue
            limit = _cpu_limit(container)
            threads = int(server_setting(container, "intra_op_threads"))
            if limit is None:
                findings.append(
                    Finding(
                        "threads",
                        obj_name(workload),
                        f"{path}.resources.limits.cpu",
                        "no CPU limit: the server sizes its thread pool from the CPU quota and would take every "
                        "core of the node",
                    )
                )
            elif threads > math.ceil(limit):
                findings.append(
                    Finding(
                        "threads",
                        obj_name(workload),
                        f"{path}.env[MODEL_SERVER_INTRA_OP_THREADS]",
                        f"{threads} intra-op threads on a {limit:g}-CPU limit: threads would contend for the quota; "
                        f"use {math.ceil(limit)} or 0 (follow the quota)",
                    )
                )
    return findings


CHECKS: dict[str, Callable[[Objects], list[Finding]]] = {
    "requests": check_requests,
    "no_replicas": check_no_replicas,
    "probes": check_probes,
    "security_context": check_security_context,
    "image_tags": check_image_tags,
    "hpa_target": check_hpa_target,
    "service": check_service,
    "nodeport": check_nodeport,
    "drain": check_drain,
    "threads": check_threads,
}


def check_all(objects: Objects) -> list[Finding]:
    """Every policy check, in order."""
    return [finding for check in CHECKS.values() for finding in check(objects)]
