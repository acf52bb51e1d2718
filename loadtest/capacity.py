"""Capacity planner: replicas for a target load, and the HPA CPU target that settles on them.

Inputs: the throughput one replica sustains while meeting the SLO (measured with
`python -m loadtest run`), the target RPS, and a headroom: the share of each replica's SLO
capacity kept free for bursts and for the time a new replica takes to start.

  replicas for the headroom = ceil(target_rps / (per_replica_rps x (1 - headroom)))   (exact decimals)

cpu_at_slo is the replica's CPU use, in % of its CPU request, at per_replica_rps (100 when the
replica is sized so that a full request is its SLO capacity), so one replica serves
per_replica_rps x 100 / cpu_at_slo rps at 100% of its request (the what-if tool's --capacity-rps).

The promise: the HPA target printed, simulated by the what-if tool (`loadtest.hpa`: the
controller's integer utilization and 10% tolerance, no `behavior`, the tool's default pod start
time) at the target load from min_replicas, settles on `replicas`, and `replicas` is at least the
headroom count. The target is the highest whole percent, at most cpu_at_slo x (1 - headroom)
rounded up, for which that holds. Rounding the target to a whole percent and the tolerance mean
that the HPA cannot always stop on the headroom count itself: beyond about 10 replicas several
neighbouring counts are all within 10% of the target, and the one the HPA stops on depends on the
path (here: scaling up from min_replicas). Then `replicas` is the count it really settles on, a
little above the headroom count. Other scale-up rules or pod start times can settle on a
neighbouring count: simulate your own HPA with `python -m loadtest hpa`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

from loadtest import hpa

MAX_REPLICAS = 2**31 - 1  # the HPA's maxReplicas is an int32


@dataclass(frozen=True)
class Plan:
    per_replica_rps: float
    target_rps: float
    headroom: float
    cpu_at_slo: float
    replicas: int  # where the HPA settles at the target load, >= replicas_for_headroom
    replicas_for_headroom: int
    hpa_target_utilization: int  # percent of the CPU request
    capacity_rps: float  # rps one replica serves at 100% of its CPU request (what-if --capacity-rps)
    load_per_replica_rps: float
    expected_utilization: float  # percent of the CPU request at the target load

    def as_dict(self) -> dict:
        return asdict(self)


def _exact(x: float) -> Fraction:
    """The decimal the user typed (0.2 is 1/5), so 80 / (50 x 0.8) is 2, not 2.0000000000000004."""
    return Fraction(repr(float(x)))


def validate(per_replica_rps: float, target_rps: float, headroom: float, cpu_at_slo: float = 100.0) -> None:
    """One-line errors naming the flag, before any work (a study) starts."""
    for flag, value in (
        ("per-replica-rps", per_replica_rps),
        ("target-rps", target_rps),
        ("headroom", headroom),
        ("cpu-at-slo", cpu_at_slo),
    ):
        if not math.isfinite(value):
            raise ValueError(f"--{flag} must be a finite number, got {value}")
    if per_replica_rps <= 0:
        raise ValueError("--per-replica-rps must be > 0")
    if target_rps <= 0:
        raise ValueError("--target-rps must be > 0")
    if not 0 <= headroom < 1:
        raise ValueError("--headroom must be in [0, 1), e.g. 0.3 for 30%")
    if not 0 < cpu_at_slo <= 1000:
        raise ValueError("--cpu-at-slo must be a percentage in (0, 1000]")
    if headroom_replicas(per_replica_rps, target_rps, headroom) > MAX_REPLICAS:
        raise ValueError(
            f"--target-rps {target_rps:g} over --per-replica-rps {per_replica_rps:g} needs more than "
            f"{MAX_REPLICAS} replicas (the HPA's limit)"
        )


def headroom_replicas(per_replica_rps: float, target_rps: float, headroom: float, min_replicas: int = 1) -> int:
    usable = _exact(per_replica_rps) * (1 - _exact(headroom))
    return max(min_replicas, math.ceil(_exact(target_rps) / usable))


def settles_on(target_utilization: int, capacity_rps: float, target_rps: float, min_replicas: int) -> int | None:
    """Where the HPA stops at a constant target load, scaling up from min_replicas; None if it never stops."""
    autoscaler = hpa.Autoscaler("plan", min_replicas, MAX_REPLICAS, target_utilization, None, None)
    # Stopped: no change for longer than a new pod takes to start and be counted, and the controller's own
    # recommendation is that count (an overshoot is only held by the 300 s scale-down window: wait it out).
    quiet = math.ceil((hpa.POD_READY_S + hpa.METRIC_WINDOW_S) / hpa.SYNC_S) + 2
    doublings = math.ceil(math.log2(target_rps / capacity_rps * 100 / target_utilization + 2)) + 2
    bound = quiet * doublings + math.ceil(hpa.DOWNSCALE_STABILIZATION_S / hpa.SYNC_S) + 2 * quiet
    load = [(0.0, target_rps), (bound * hpa.SYNC_S, target_rps)]
    last, unchanged = min_replicas, 0
    for sync in hpa.timeline(autoscaler, load, capacity_rps):
        unchanged = unchanged + 1 if sync.replicas == last else 0
        last = sync.replicas
        wanted = None if sync.desired is None else max(min_replicas, sync.desired)
        if unchanged >= quiet and wanted == last:
            return last
    return None


def plan(
    per_replica_rps: float, target_rps: float, headroom: float = 0.3, cpu_at_slo: float = 100.0, min_replicas: int = 1
) -> Plan:
    validate(per_replica_rps, target_rps, headroom, cpu_at_slo)
    needed = headroom_replicas(per_replica_rps, target_rps, headroom, min_replicas)
    capacity_rps = float(_exact(per_replica_rps) * 100 / _exact(cpu_at_slo))
    ceiling = max(1, math.ceil(_exact(cpu_at_slo) * (1 - _exact(headroom))))
    # A lower target settles on more replicas: walk down to the first that settles on enough of them.
    for target in range(ceiling, 0, -1):
        replicas = settles_on(target, capacity_rps, target_rps, min_replicas)
        if replicas is not None and replicas >= needed:
            break
    else:
        raise ValueError(f"no whole-percent HPA target settles on {needed} or more replicas; check --cpu-at-slo")
    load = target_rps / replicas
    return Plan(
        per_replica_rps=per_replica_rps,
        target_rps=target_rps,
        headroom=headroom,
        cpu_at_slo=cpu_at_slo,
        replicas=replicas,
        replicas_for_headroom=needed,
        hpa_target_utilization=target,
        capacity_rps=capacity_rps,
        load_per_replica_rps=load,
        expected_utilization=cpu_at_slo * load / per_replica_rps,
    )


def cost_per_million(
    per_replica_rps: float, vcpus_per_replica: float, usd_per_vcpu_hour: float, target_rps: float, headroom: float
) -> float:
    """Dollars per million requests when serving target_rps with the replicas plan() settles on."""
    replicas = plan(per_replica_rps, target_rps, headroom).replicas
    dollars_per_hour = replicas * vcpus_per_replica * usd_per_vcpu_hour
    return dollars_per_hour / (target_rps * 3600) * 1e6
