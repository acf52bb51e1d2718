"""Builds of a learner's Dockerfile, bounded by mechanism rather than by reading the RUN lines.

- Docker's classic builder (DOCKER_BUILDKIT=0): no remote frontends (`# syntax=`), no `RUN --mount`
  secrets, SSH agents or caches shared between students; what the daemon itself would fetch (ADD of a
  URL, images other than the base) is refused before the build (grader.policies.dockerfile.remote_sources).
- Processes and memory: every RUN container is created inside the cgroup of a "limits" container
  (`--cgroup-parent`), whose pids and memory limits bound the whole build (cgroup v1, cgroupfs driver).
- Disk: each file is capped by RLIMIT_FSIZE (`--ulimit fsize`), and the layers written so far are watched
  while the build runs; a build over the cap is stopped.
- Time: the build has its own deadline, stated per lab (`build_s`).
- Cleanup: what this build made (its containers, every layer it committed, its tag, the limits
  container) is removed by id, even after a failed or stopped build; nothing else is touched. The ids are
  also written, as they appear, to a ledger (GRADER_LEDGER, set by the batch), so that the batch can remove
  them after it had to kill a worker in the middle of a build (`sweep`).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import sandbox
from grader.context import Context
from grader.settings import child_env
from grader.verdict import Skip

PIDS = 256
MEMORY = "2g"
FILE_BYTES = 512 * 1024**2  # the largest file a RUN step may write
DISK_BYTES = 1_500_000_000  # the layers a build may add on top of its base
POLL_S = 0.5
_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_SIZE = re.compile(r"virtual ([\d.]+)\s*([kKMGT]?B)")


@dataclass
class Build:
    ok: bool
    log: str
    seconds: float
    stopped: str = ""  # why the grader stopped it (disk, time), empty otherwise
    images: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, errors="replace")


def _virtual_bytes(container: str) -> float:
    """Size of a running container's root filesystem (base + layers + what it wrote), 0 when gone."""
    proc = _docker("ps", "--all", "--size", "--no-trunc", "--filter", f"id={container}", "--format", "{{.Size}}")
    m = _SIZE.search(proc.stdout)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else 0.0


def bounded_here() -> str | None:
    """None when this engine can bound builds (cgroup v1, cgroupfs driver), else what it has."""
    info = _docker("info", "--format", "{{.CgroupDriver}} {{.CgroupVersion}}").stdout.split()
    return None if info == ["cgroupfs", "1"] else " ".join(info) or "no answer from docker info"


def limits_parent(ctx: Context, base_image: str, seconds: float) -> str | None:
    """Start the limits container and return the cgroup parent that puts a build under its limits. Without
    the means to bound it, a learner's self-check (`grader check`: their own Dockerfile on their own machine)
    builds without a process bound (None); the batch grader (other people's Dockerfiles) skips the check."""
    if engine := bounded_here():
        if not ctx.batch:
            return None
        raise Skip(
            f"image builds are bounded through cgroup v1 with the cgroupfs driver; this engine has {engine}",
            "a Docker engine on cgroup v1 (the CI machines) for untrusted builds",
        )
    name = ctx.name("build-limits")
    ctx.cleanups.append(lambda: sandbox.remove("container", name))
    proc = _docker(
        "run", "--detach", "--rm", "--name", name, "--network", "none", "--read-only", "--cap-drop", "ALL",
        "--pids-limit", str(PIDS), "--memory", MEMORY, "--memory-swap", MEMORY, "--cpus", "1",
        base_image, "sleep", str(int(seconds) + 60),
    )  # fmt: skip
    if proc.returncode != 0:
        raise Skip(f"cannot start the build's limits container: {proc.stderr.strip()[:300]}", "make base-image")
    cid = proc.stdout.strip()
    parent = _docker("inspect", "--format", "{{.HostConfig.CgroupParent}}", cid).stdout.strip() or "/docker"
    return f"{parent.rstrip('/')}/{cid}"


def _record(ledger: Path | None, run_id: str, kind: str, ident: str) -> None:
    if ledger:
        with (ledger / f"{run_id}.ids").open("a") as fh:
            fh.write(f"{kind} {ident}\n")


def sweep(ledger: Path, prefix: str) -> None:
    """Remove what the ledger lists for runs starting with `prefix` (containers, then images newest first)."""
    for path in ledger.glob(f"{prefix}*.ids"):
        entries = [line.split() for line in path.read_text().splitlines() if line.strip()]
        result = Build(ok=False, log="", seconds=0.0)
        result.containers = [i for k, i in entries if k == "container"]
        result.images = [i for k, i in entries if k == "image"]
        remove(result, "")
        path.unlink()


def build(
    ctx: Context, dockerfile: Path, context: Path, tag: str, build_args: dict[str, str], base_image: str, build_s: float
) -> Build:
    """Build `dockerfile` under the limits; every image and container it made is removed at cleanup."""
    parent = limits_parent(ctx, base_image, build_s)
    base_bytes = float(_docker("image", "inspect", "--format", "{{.Size}}", base_image).stdout.strip() or 0)
    result = Build(ok=False, log="", seconds=0.0)
    ctx.cleanups.append(lambda: remove(result, tag))
    args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
    if parent:
        args += ["--cgroup-parent", parent]
    cmd = [
        "docker", "build", "--no-cache", "--force-rm", "--network", "none",
        "--memory", MEMORY, "--memory-swap", MEMORY, "--cpu-quota", "100000", "--ulimit", f"fsize={FILE_BYTES}",
        "--file", str(dockerfile), "--tag", tag, *args, str(context),
    ]  # fmt: skip
    env = child_env(DOCKER_BUILDKIT="0")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: list[str] = []
    running: list[str] = []  # the RUN container of the current step, if any

    def read() -> None:
        assert proc.stdout
        step = ""
        for line in proc.stdout:
            lines.append(line)
            text = line.strip()
            if text.startswith("Step "):
                step = text.split(":", 1)[-1].strip().split(" ", 1)[0].upper()
            elif text.startswith("---> Running in "):
                cid = text.split()[-1]
                result.containers.append(cid)
                _record(ctx.settings.ledger, ctx.run_id, "container", cid)
                running[:] = [cid]
            elif text.startswith("---> ") and re.fullmatch(r"---> [0-9a-f]{12}", text):
                running.clear()
                if step != "FROM":  # a FROM step prints the id of an image that existed before
                    result.images.append(text.split()[-1])
                    _record(ctx.settings.ledger, ctx.run_id, "image", text.split()[-1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        time.sleep(POLL_S)
        if time.monotonic() - start > build_s:
            result.stopped = f"the build took longer than {build_s:g} s (this lab's build time limit) and was stopped"
        elif running and _virtual_bytes(running[0]) - base_bytes > DISK_BYTES:
            result.stopped = f"the build wrote more than {DISK_BYTES / 1e9:g} GB of layers and was stopped"
        if result.stopped:
            # Stop the step's container and let the client see the build end, so a layer the daemon commits at
            # that moment is printed, read and recorded (killing the client first left such a layer behind).
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                for cid in running:
                    _docker("kill", cid)
                time.sleep(POLL_S)
            proc.kill()
            break
    proc.wait()
    reader.join(timeout=30)
    result.seconds = time.monotonic() - start
    if proc.returncode == 0 and not any(ln.startswith("Step ") for ln in lines):
        result.stopped = "this Docker did not build with the classic builder (DOCKER_BUILDKIT=0), so no limit held"
    result.ok = proc.returncode == 0 and not result.stopped
    result.log = "".join(ln for ln in lines if not ln.startswith(("DEPRECATED", "            ")))
    return result


def remove(result: Build, tag: str) -> None:
    """The tag, then this build's containers and committed layers, newest first (ids only: never others')."""
    if tag:
        _docker("image", "rm", tag)
    if result.containers:
        _docker("rm", "--force", *result.containers)
    pending = list(reversed(result.images))
    for _ in range(20):  # after a stopped build the daemon may still be removing its last container
        with contextlib.suppress(subprocess.TimeoutExpired):
            pending = [i for i in pending if "No such image" not in _docker("image", "rm", i).stderr and _exists(i)]
        if not pending:
            return
        time.sleep(0.5)


def _exists(image: str) -> bool:
    return _docker("image", "inspect", "--format", "{{.Id}}", image).returncode == 0
