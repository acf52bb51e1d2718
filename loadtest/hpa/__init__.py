"""HPA what-if (`python -m loadtest hpa`): the HorizontalPodAutoscaler controller, simulated.

manifest: the autoscaling/v2 spec it reads; controller: one sync's recommendation and its
stabilization, policies and limits; simulation: pods and load over time; report: table, JSON, files.
The names below are the package's interface.
"""

from loadtest.hpa.controller import (
    SYNC_S,
    Controller,
    PodMetric,
    Recommendation,
    recommend,
    utilization_percent,
)
from loadtest.hpa.manifest import (
    DOWNSCALE_STABILIZATION_S,
    Autoscaler,
    HpaError,
    Policy,
    ScalingRules,
    load_hpa,
    parse_hpa,
)
from loadtest.hpa.simulation import (
    METRIC_WINDOW_S,
    POD_READY_S,
    Sync,
    load_at,
    read_load,
    simulate,
    timeline,
)

__all__ = [
    "DOWNSCALE_STABILIZATION_S",
    "METRIC_WINDOW_S",
    "POD_READY_S",
    "SYNC_S",
    "Autoscaler",
    "Controller",
    "HpaError",
    "PodMetric",
    "Policy",
    "Recommendation",
    "ScalingRules",
    "Sync",
    "load_at",
    "load_hpa",
    "parse_hpa",
    "read_load",
    "recommend",
    "simulate",
    "timeline",
    "utilization_percent",
]
