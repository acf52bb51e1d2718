"""A rendered Deployment's pod spec translated to one `docker run`, as the kubelet would run it: the same image,
command/args, env, user and groups, read-only root, a tmpfs for each emptyDir, dropped capabilities,
no-new-privileges, the CPU and memory limits, and its probes. grader.ops.podspec runs the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.policies import kubernetes as k8s
from loadtest.k8s_quantity import cpu_cores, memory_bytes


class PodSpecError(RuntimeError):
    """The pod spec cannot be translated, or the container did not behave as the kubelet requires."""


@dataclass(frozen=True)
class Probe:
    kind: str  # startupProbe, readinessProbe, livenessProbe
    path: str
    port: int  # container port
    initial_delay_s: float
    period_s: float
    timeout_s: float
    failure_threshold: int
    success_threshold: int

    @classmethod
    def from_spec(cls, kind: str, spec: dict[str, Any], container: dict[str, Any]) -> Probe:
        get = spec.get("httpGet")
        if not get:
            raise PodSpecError(f"{kind} is not an httpGet probe; only httpGet is translated")
        port = k8s.port_number(get.get("port"), container)
        if port is None:
            raise PodSpecError(f"{kind} port {get.get('port')!r} is not a port of the container")
        # The API server's defaults for unset fields.
        return cls(
            kind=kind,
            path=get.get("path", "/"),
            port=port,
            initial_delay_s=spec.get("initialDelaySeconds", 0),
            period_s=spec.get("periodSeconds", 10),
            timeout_s=spec.get("timeoutSeconds", 1),
            failure_threshold=spec.get("failureThreshold", 3),
            success_threshold=spec.get("successThreshold", 1),
        )


@dataclass
class PodPlan:
    """What the kubelet would run, from the rendered objects."""

    workload: str
    container: str
    image: str
    run_args: list[str]  # `docker run` flags, without --name, --publish and the image
    entrypoint: str | None
    command: list[str]  # after the image: the rest of `command`, then `args`
    ports: list[int]
    probes: dict[str, Probe]
    pre_stop: list[str] | None
    grace_s: float
    service_port: int  # the container port the Service targets
    drain_s: float


def plan(objects: k8s.Objects, image: str | None = None) -> PodPlan:
    """Translate the first model-server Deployment's container into a PodPlan; `image` replaces the tag deployed."""
    for workload in k8s.workloads(objects):
        for _, container in k8s.containers(workload):
            if k8s.is_model_server(container):
                return _plan(objects, workload, container, image)
    raise PodSpecError("no workload runs the model-server image")


def _plan(objects: k8s.Objects, workload: dict[str, Any], container: dict[str, Any], image: str | None) -> PodPlan:
    pod = workload["spec"]["template"]["spec"]
    pod_sc, sc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    args: list[str] = []
    uid, gid = sc.get("runAsUser", pod_sc.get("runAsUser")), sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if uid is not None:
        args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    if pod_sc.get("fsGroup") is not None:
        args += ["--group-add", str(pod_sc["fsGroup"])]
    for group in pod_sc.get("supplementalGroups") or []:
        args += ["--group-add", str(group)]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        args += ["--cap-drop", cap]
    for cap in caps.get("add") or []:
        args += ["--cap-add", cap]
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"], {})
        if "emptyDir" not in volume:
            raise PodSpecError(f"volume {mount['name']!r} is not an emptyDir; only emptyDir is translated (tmpfs)")
        options = "rw,mode=1777"
        if (volume["emptyDir"] or {}).get("sizeLimit"):
            options += f",size={memory_bytes(volume['emptyDir']['sizeLimit'])}"
        args += ["--tmpfs", f"{mount['mountPath']}:{options}"]
    limits = (container.get("resources") or {}).get("limits") or {}
    if limits.get("cpu"):
        args += ["--cpus", f"{cpu_cores(limits['cpu']):g}"]
    if limits.get("memory"):
        args += ["--memory", str(memory_bytes(limits["memory"]))]
    for var in container.get("env") or []:
        if "value" not in var:
            raise PodSpecError(f"env {var.get('name')!r} uses valueFrom; only plain values are translated")
        args += ["--env", f"{var['name']}={var['value']}"]
    if container.get("workingDir"):
        args += ["--workdir", container["workingDir"]]
    grace = pod.get("terminationGracePeriodSeconds", k8s.DEFAULT_GRACE_S)
    args += ["--stop-timeout", str(grace)]
    command = list(container.get("command") or [])
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
    return PodPlan(
        workload=k8s.obj_name(workload),
        container=container["name"],
        image=image or container["image"],
        run_args=args,
        entrypoint=command[0] if command else None,
        command=command[1:] + list(container.get("args") or []),
        ports=[p["containerPort"] for p in container.get("ports") or []],
        probes={
            kind: Probe.from_spec(kind, container[kind], container)
            for kind in ("startupProbe", "readinessProbe", "livenessProbe")
            if container.get(kind)
        },
        pre_stop=pre_stop,
        grace_s=float(grace),
        service_port=_service_target(objects, workload, container),
        drain_s=float(k8s.server_setting(container, "drain_seconds")),
    )


def _service_target(objects: k8s.Objects, workload: dict[str, Any], container: dict[str, Any]) -> int:
    labels = workload["spec"]["template"].get("metadata", {}).get("labels") or {}
    for service in (o for o in objects if o.get("kind") == "Service"):
        if k8s.selects(service["spec"].get("selector") or {}, labels):
            port = service["spec"]["ports"][0]
            number = k8s.port_number(port.get("targetPort", port.get("port")), container)
            if number is not None:
                return number
    raise PodSpecError(f"no Service selects {k8s.obj_name(workload)} with a targetPort of its container")


def docker_run_command(pod: PodPlan, name: str, host_ports: dict[int, int]) -> list[str]:
    publish = [arg for port in pod.ports for arg in ("--publish", f"127.0.0.1:{host_ports[port]}:{port}")]
    entry = ["--entrypoint", pod.entrypoint] if pod.entrypoint else []
    return ["docker", "run", "--detach", "--name", name, *pod.run_args, *publish, *entry, pod.image, *pod.command]
