"""The CPUs this process may use (the cgroup CPU quota, v2 or v1, and the affinity mask, not the host's cores),
and the one place that pins a process to cores (the load tests keep a load generator off the server's core).

Linux has both; macOS has neither (no `os.sched_*affinity`, no /sys/fs/cgroup): there the count is the CPU
count and nothing is pinned. The load-test harness and studies use this module too (model_server is the bottom
of the stack: grader -> loadtest -> model_server).
"""

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs allowed by the cgroup quota (`docker run --cpus`), or None when unlimited."""
    v2 = root / "cpu.max"
    if v2.is_file():
        quota, _, period = v2.read_text().strip().partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100_000)
    for v1 in (root / "cpu", root / "cpu,cpuacct", root):
        quota_file, period_file = v1 / "cpu.cfs_quota_us", v1 / "cpu.cfs_period_us"
        if quota_file.is_file() and period_file.is_file():
            v1_quota = int(quota_file.read_text())
            return None if v1_quota <= 0 else v1_quota / int(period_file.read_text())
    return None


def usable_cores() -> list[int]:
    """The core ids this process may run on (sorted); on a system without affinity masks, all of them."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """Whole CPUs usable: the affinity mask, capped by the cgroup quota rounded up, at least 1."""
    cpus = len(usable_cores())
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def pinnable_cores() -> list[int] | None:
    """The cores this process may be pinned to (its affinity mask, e.g. under taskset or a container's
    cpuset), sorted; None where the platform cannot pin (macOS has no sched_*affinity)."""
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return None
    return usable_cores()


def pin(cores: Iterable[int]) -> None:
    """Pins this process to `cores` for good (a load generator); OSError for a core it may not use."""
    os.sched_setaffinity(0, set(cores))


@contextmanager
def pinned(cpu: int) -> Iterator[bool]:
    """Pins the calling thread to one core for the block, then restores its mask (onnxruntime with one
    intra-op thread runs on it). Yields whether it pinned: where the platform cannot, it pins nothing."""
    if pinnable_cores() is None:
        yield False
        return
    previous = os.sched_getaffinity(0)
    pin({cpu})
    try:
        yield True
    finally:
        pin(previous)
