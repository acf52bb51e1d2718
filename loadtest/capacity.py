"""Capacity planner: replicas for a target load, and the HPA utilization target that matches.

Inputs: the throughput one replica sustains while meeting the SLO (measured with
`python -m loadtest run`), the target RPS, and a headroom: the share of each replica's SLO
capacity kept free for bursts and for the time a new replica takes to start.

  replicas   = ceil(target_rps / (per_replica_rps * (1 - headroom)))
  hpa target = cpu_at_slo * (1 - headroom)

cpu_at_slo is the replica's CPU use, in % of its CPU request, at per_replica_rps (100 when the
replica is sized so that a full request is its SLO capacity). With that target, the HPA formula
desired = ceil(sum of utilizations / target) gives the same replica count at the target load.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Guard against float noise such as 100 / (50 * 0.8) = 2.5000000000000004.
_EPS = 1e-9


@dataclass(frozen=True)
class Plan:
    per_replica_rps: float
    target_rps: float
    headroom: float
    cpu_at_slo: float
    replicas: int
    hpa_target_utilization: int  # percent of the CPU request
    load_per_replica_rps: float
    expected_utilization: float  # percent of the CPU request at the target load

    def as_dict(self) -> dict:
        return asdict(self)


def plan(
    per_replica_rps: float, target_rps: float, headroom: float = 0.3, cpu_at_slo: float = 100.0, min_replicas: int = 1
) -> Plan:
    if per_replica_rps <= 0:
        raise ValueError("per-replica RPS must be > 0")
    if target_rps < 0:
        raise ValueError("target RPS must be >= 0")
    if not 0 <= headroom < 1:
        raise ValueError("headroom must be in [0, 1), e.g. 0.3 for 30%")
    if not 0 < cpu_at_slo <= 1000:
        raise ValueError("cpu-at-slo must be a percentage in (0, 1000]")
    usable = per_replica_rps * (1 - headroom)
    replicas = max(min_replicas, math.ceil(target_rps / usable - _EPS))
    load = target_rps / replicas
    return Plan(
        per_replica_rps=per_replica_rps,
        target_rps=target_rps,
        headroom=headroom,
        cpu_at_slo=cpu_at_slo,
        replicas=replicas,
        hpa_target_utilization=max(1, math.floor(cpu_at_slo * (1 - headroom) + _EPS)),
        load_per_replica_rps=load,
        expected_utilization=cpu_at_slo * load / per_replica_rps,
    )


def cost_per_million(
    per_replica_rps: float, vcpus_per_replica: float, usd_per_vcpu_hour: float, target_rps: float, headroom: float
) -> float:
    """Dollars per million requests when serving target_rps with the replicas plan() asks for."""
    replicas = plan(per_replica_rps, target_rps, headroom).replicas
    dollars_per_hour = replicas * vcpus_per_replica * usd_per_vcpu_hour
    return dollars_per_hour / (target_rps * 3600) * 1e6
