"""Run a rendered Deployment's pod spec under Docker, as the kubelet would, without a cluster.

The container becomes one `docker run` (grader.ops.podplan: the same image, command/args, env, user and groups,
read-only root, a tmpfs for each emptyDir, dropped capabilities, no-new-privileges, the CPU and memory limits). Then:
the startup probe is polled as declared (initial delay, period, timeout, failure threshold), then readiness and
liveness run at their periods in the background; one inference request goes through the container port the
Service targets; requests keep flowing while the preStop hook runs (docker exec) and SIGTERM starts the server's
drain, and stop being sent when the drain ends (as kube-proxy would have stopped routing); the container must exit
0 within terminationGracePeriodSeconds (counted from the preStop start, like the kubelet) with no request lost.

This catches a probe on the wrong port, a read-only root the server cannot live with, a UID that cannot read the
models, and a drain longer than the grace period. `make k8s-podspec` runs it; tests/k8s/test_podspec.py too.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from grader.ops.podplan import PodPlan, PodSpecError, Probe, docker_run_command, plan
from grader.policies import kubernetes as k8s
from loadtest.local_server import free_port
from loadtest.options import typer_app
from loadtest.payloads import digits_v2_body
from loadtest.preflight import poll

# One small digits request (v2 protocol), as the load tests send it.
DIGITS_REQUEST = digits_v2_body([[0.0] * 64])


@dataclass
class ProbeLog:
    """What one probe saw: (seconds since start, success) per attempt."""

    results: list[tuple[float, bool]] = field(default_factory=list)

    def consecutive_failures(self) -> int:
        worst = run = 0
        for _, ok in self.results:
            run = 0 if ok else run + 1
            worst = max(worst, run)
        return worst


@dataclass
class PodRunReport:
    workload: str
    image: str
    docker_run: list[str]
    started_s: float = 0.0  # startup probe succeeded
    ready_s: float = 0.0  # readiness probe succeeded
    inference_status: int = 0
    drain_requests_ok: int = 0
    drain_requests_lost: list[str] = field(default_factory=list)
    readiness_off_after_sigterm: bool = False
    liveness_worst_failures: int = 0
    liveness_threshold: int = 0
    stop_s: float = 0.0  # preStop start -> container exited
    grace_s: float = 0.0
    exit_code: int | None = None
    killed_at_grace: bool = False
    oom_killed: bool = False
    problems: list[str] = field(default_factory=list)
    logs_tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "logs_tail"}


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _running(name: str) -> bool:
    state = _docker("inspect", "--format", "{{.State.Running}}", name)
    return state.stdout.strip() == "true"


def _get(url: str, timeout: float) -> bool:
    """The kubelet's httpGet: success is a status from 200 to 399 within the timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 400
    except (urllib.error.URLError, OSError):
        return False


def _infer(base: str, timeout: float = 15) -> int:
    request = urllib.request.Request(
        f"{base}/v2/models/digits/infer",
        data=json.dumps(DIGITS_REQUEST).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


class _Prober(threading.Thread):
    """Runs one probe at its period until stopped, as the kubelet does after the startup probe passed."""

    def __init__(self, probe: Probe, url: str, start: float) -> None:
        super().__init__(daemon=True)
        self.probe, self.url, self.start_time = probe, url, start
        self.log = ProbeLog()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            ok = _get(self.url, self.probe.timeout_s)
            self.log.results.append((time.monotonic() - self.start_time, ok))
            self.stop.wait(self.probe.period_s)


def run_pod(pod: PodPlan, progress: Callable[[str], None] = lambda _: None) -> PodRunReport:
    """Run the pod spec as described in the module docstring; the container is removed at the end."""
    name = f"ahl-k8s-podspec-{uuid.uuid4().hex[:8]}"
    host_ports = {port: free_port() for port in pod.ports}
    command = docker_run_command(pod, name, host_ports)
    report = PodRunReport(pod.workload, pod.image, command, grace_s=pod.grace_s)
    probers: list[_Prober] = []
    try:
        if _docker("image", "inspect", pod.image).returncode != 0:
            raise PodSpecError(f"image {pod.image} is not on this Docker engine: make image, then --image NAME:TAG")
        started = _docker(*command[1:], timeout=120)
        if started.returncode != 0:
            raise PodSpecError(f"docker run failed: {started.stderr.strip()}")
        t0 = time.monotonic()
        progress(f"started {name} from {pod.image}")
        _startup(pod, name, host_ports, t0, report)
        progress(f"startup probe passed after {report.started_s:.1f} s")
        for kind in ("readinessProbe", "livenessProbe"):
            if kind in pod.probes:
                probe = pod.probes[kind]
                prober = _Prober(probe, f"http://127.0.0.1:{host_ports[probe.port]}{probe.path}", t0)
                probers.append(prober)
                prober.start()
        readiness = next((p for p in probers if p.probe.kind == "readinessProbe"), None)
        if readiness:

            def passed() -> bool | None:
                if not _running(name):
                    raise PodSpecError("the readiness probe never passed (or the container exited)")
                return any(ok for _, ok in readiness.log.results) or None

            if poll(passed, 60) is None:
                raise PodSpecError("the readiness probe never passed (or the container exited)")
        report.ready_s = time.monotonic() - t0
        progress(f"ready after {report.ready_s:.1f} s")
        base = f"http://127.0.0.1:{host_ports[pod.service_port]}"
        report.inference_status = _infer(base)
        progress(f"inference through the Service's target port {pod.service_port}: HTTP {report.inference_status}")
        _stop_under_load(pod, name, base, readiness, t0, report, progress)
    except PodSpecError as err:
        report.problems.append(str(err))
    finally:
        for prober in probers:
            prober.stop.set()
        logs = _docker("logs", "--tail", "15", name)
        if logs.returncode == 0:
            report.logs_tail = logs.stdout + logs.stderr
        _docker("rm", "--force", name)
    liveness = next((p for p in probers if p.probe.kind == "livenessProbe"), None)
    if liveness:
        report.liveness_worst_failures = liveness.log.consecutive_failures()
        report.liveness_threshold = liveness.probe.failure_threshold
    report.problems += _judge(report)
    return report


def _startup(pod: PodPlan, name: str, host_ports: dict[int, int], t0: float, report: PodRunReport) -> None:
    probe = pod.probes.get("startupProbe") or pod.probes.get("readinessProbe")
    if probe is None:
        raise PodSpecError("no startup or readiness probe: nothing tells when the server is up")
    url = f"http://127.0.0.1:{host_ports[probe.port]}{probe.path}"
    time.sleep(probe.initial_delay_s)
    failures = 0
    while True:
        attempt = time.monotonic()
        if _get(url, probe.timeout_s):
            report.started_s = time.monotonic() - t0
            return
        failures += 1
        if not _running(name):
            raise PodSpecError(f"the container exited during startup (see its logs) after {failures} probe(s)")
        if failures >= probe.failure_threshold:
            raise PodSpecError(
                f"{probe.kind} on {probe.path}:{probe.port} failed {failures} times "
                f"(every {probe.period_s:g} s): the kubelet would kill and restart the container"
            )
        time.sleep(max(0.0, probe.period_s - (time.monotonic() - attempt)))


def _stop_under_load(
    pod: PodPlan,
    name: str,
    base: str,
    readiness: _Prober | None,
    t0: float,
    report: PodRunReport,
    progress: Callable[[str], None],
) -> None:
    """Requests flow while preStop runs and the server drains; they stop when the drain ends (the Service no longer
    routes here); the container must then exit 0 within the grace period."""
    stop_sending = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        while not stop_sending.is_set():
            try:
                status = _infer(base)
                outcome = None if status == 200 else f"HTTP {status}"
            except (urllib.error.URLError, OSError) as err:
                outcome = f"{type(err).__name__}: {err}"
            with lock:
                if outcome is None:
                    report.drain_requests_ok += 1
                else:
                    report.drain_requests_lost.append(outcome)

    clients = [threading.Thread(target=client, daemon=True) for _ in range(2)]
    for thread in clients:
        thread.start()
    time.sleep(0.3)  # requests are in flight when the pod starts terminating
    stop_started = time.monotonic()
    if pod.pre_stop:
        progress(f"preStop: {' '.join(pod.pre_stop)}")
        hook = _docker("exec", name, *pod.pre_stop, timeout=pod.grace_s)
        if hook.returncode != 0:
            raise PodSpecError(f"the preStop hook failed ({hook.returncode}): {hook.stderr.strip()}")
    sigterm_at = time.monotonic()
    progress("SIGTERM")
    _docker("kill", "--signal", "TERM", name)
    # New requests stop when the drain ends; a margin keeps the last ones inside it.
    time.sleep(max(0.0, pod.drain_s - 0.5))
    stop_sending.set()
    for thread in clients:
        thread.join(timeout=pod.grace_s)
    # The kubelet's grace period counts from the preStop start; at its end comes SIGKILL.
    deadline = stop_started + pod.grace_s
    while _running(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    report.stop_s = time.monotonic() - stop_started
    if _running(name):
        progress(f"still running after the grace period ({pod.grace_s:g} s): SIGKILL")
        _docker("kill", "--signal", "KILL", name)
        report.killed_at_grace = True
    poll(lambda: None if _running(name) else True, 10)
    state = json.loads(_docker("inspect", "--format", "{{json .State}}", name).stdout or "{}")
    report.exit_code = None if state.get("Running") else state.get("ExitCode")
    report.oom_killed = bool(state.get("OOMKilled"))
    if readiness:
        report.readiness_off_after_sigterm = any(not ok for t, ok in readiness.log.results if t + t0 >= sigterm_at)
    progress(f"exited {report.exit_code} after {report.stop_s:.1f} s (grace {pod.grace_s:g} s)")


def _judge(report: PodRunReport) -> list[str]:
    problems = []
    if report.inference_status != 200 and report.ready_s:
        problems.append(f"inference through the Service's target port answered HTTP {report.inference_status}")
    if report.drain_requests_lost:
        problems.append(
            f"{len(report.drain_requests_lost)} request(s) lost during the drain, e.g. {report.drain_requests_lost[0]}"
        )
    if report.liveness_worst_failures >= report.liveness_threshold > 0:
        problems.append(f"the liveness probe failed {report.liveness_worst_failures} times: the kubelet would restart")
    if report.killed_at_grace:
        problems.append(f"still running at the end of terminationGracePeriodSeconds ({report.grace_s:g} s): SIGKILLed")
    elif report.stop_s and report.exit_code != 0:
        problems.append(f"exit code {report.exit_code} (OOM killed: {report.oom_killed}), not a clean 0")
    return problems


def main(
    overlay: Annotated[Path, typer.Option(help="Kustomize folder to render")] = Path("k8s/overlays/kind"),
    image: Annotated[
        str | None, typer.Option(help="Image to run instead of the rendered one (e.g. make image's)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Run the rendered Deployment's pod spec under Docker as the kubelet would; exit 1 on any problem."""
    try:
        pod = plan(k8s.render(overlay), image)
    except (k8s.RenderError, PodSpecError) as err:
        typer.echo(f"podspec: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo("podspec: " + " ".join(docker_run_command(pod, "NAME", {p: p for p in pod.ports})), err=True)
    report = run_pod(pod, progress=lambda line: typer.echo(f"podspec: {line}", err=True))
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    for problem in report.problems:
        typer.echo(f"podspec: FAIL {problem}", err=True)
    if report.problems:
        if report.logs_tail:
            typer.echo(f"podspec: the container's last log lines:\n{report.logs_tail}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"podspec: OK: started {report.started_s:.1f} s, ready {report.ready_s:.1f} s, "
        f"{report.drain_requests_ok} requests served during preStop + drain, none lost, "
        f"exit 0 after {report.stop_s:.1f} s < grace {report.grace_s:g} s",
        err=True,
    )


if __name__ == "__main__":
    cli = typer_app()
    cli.command()(main)
    cli()
