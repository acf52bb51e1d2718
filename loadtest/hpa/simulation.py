"""HPA what-if: the controller (loadtest.hpa.controller) driven along a load profile, one sync at a time.

Model of the pods (the simulation's assumptions, not the controller's):
- every serving (ready) pod takes an equal share of the load, and its CPU usage is
  100 x share / capacity-rps percent of its request, exactly (no noise, no CPU limit cap);
- a new pod is created at the sync that scales up and becomes ready pod-ready-s later; before that
  it is unready. During the controller's CPU initialization period (300 s after the pod started), a
  ready pod still counts as unready until the reading covers one metric window (15 s, metrics-server's
  resolution) of usage since it became ready;
- the CPU the controller reads at a sync is what the pods used metrics-lag-s earlier (0: fresh). On a cluster the
  kubelet's usage window, metrics-server's scrape and the HPA's read add up to about half a minute, which is how
  long a step in the load takes to show in `kubectl get hpa`;
- every started pod has metrics (no missing-metrics pods arise in the simulation; the calculator
  handles them as the controller does);
- a scale-down removes unready pods first, then the youngest, at once (terminating pods are ignored
  by the controller and take no traffic);
- boundary times compare as the controller's code does, with each record stamped at its sync time:
  a record exactly one window old is outside a behavior window (`After(cutoff)`) but inside the
  300 s window of the no-behavior path (`!Before(cutoff)`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from loadtest.hpa.controller import SYNC_S, Controller, PodMetric, Recommendation, recommend
from loadtest.hpa.manifest import Autoscaler, HpaError

CPU_INITIALIZATION_PERIOD_S = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
METRIC_WINDOW_S = 15.0  # metrics-server's default --metric-resolution
POD_READY_S = 20.0  # the what-if tool's default time from a pod's creation to ready
REQUEST_MILLICORES = 1000  # the utilization percent does not depend on it: every pod requests the same


@dataclass(frozen=True)
class Sync:
    t: float
    rps: float
    replicas: int  # spec.replicas after this sync
    ready: int  # pods ready (serving) at this sync
    utilization: int | None  # as the controller computes it; None when it computed none
    desired: int | None  # the raw recommendation, before stabilization, policies and limits
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "replicas": self.replicas,
            "ready": self.ready,
            "utilization": self.utilization,
            "desired": self.desired,
            "reason": self.reason,
        }


@dataclass
class _Cohort:
    """Pods created together at one sync (they share their timeline)."""

    created: float
    ready_at: float
    count: int


# A load profile covers a day at most (the simulation takes one step per sync period, the run one per second).
MAX_LOAD_S = 86_400
MAX_RPS = 1_000_000


def read_load(path: Path) -> list[tuple[float, float]]:
    """A `t,rps` CSV: seconds from the start (first row 0, increasing, at most a day) and requests per second."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"t", "rps"} <= {f.strip() for f in reader.fieldnames}:
                raise HpaError(f"{path}: the header must name the columns t,rps (got {reader.fieldnames})")
            rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    except OSError as exc:
        raise HpaError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HpaError(f"{path} is not UTF-8 text: is it the t,rps CSV?") from None
    load: list[tuple[float, float]] = []
    for line, row in enumerate(rows, start=2):
        try:
            t, rps = float(row["t"]), float(row["rps"])
        except (TypeError, ValueError):
            raise HpaError(f"{path}:{line}: t and rps must be numbers, got {row['t']!r}, {row['rps']!r}") from None
        if not (math.isfinite(t) and math.isfinite(rps)) or rps < 0:
            raise HpaError(f"{path}:{line}: t and rps must be finite and rps >= 0")
        if t > MAX_LOAD_S or rps > MAX_RPS:
            raise HpaError(f"{path}:{line}: t must be at most {MAX_LOAD_S} s (a day) and rps at most {MAX_RPS:g}")
        if (not load and t != 0) or (load and t <= load[-1][0]):
            raise HpaError(f"{path}:{line}: t must start at 0 and increase (got {t:g})")
        load.append((t, rps))
    if not load:
        raise HpaError(f"{path}: no rows")
    return load


def load_at(load: Sequence[tuple[float, float]], t: float) -> float:
    """Piecewise constant: the rps of the last row at or before t."""
    rps = load[0][1]
    for start, value in load:
        if start <= t:
            rps = value
    return rps


def simulate(
    hpa: Autoscaler,
    load: Sequence[tuple[float, float]],
    capacity_rps: float,
    start_replicas: int | None = None,
    pod_ready_s: float = POD_READY_S,
    sync_s: float = SYNC_S,
    metrics_lag_s: float = 0.0,
) -> list[Sync]:
    """One Sync per controller sync from t=0 to the last load row's t."""
    return list(timeline(hpa, load, capacity_rps, start_replicas, pod_ready_s, sync_s, metrics_lag_s))


def timeline(
    hpa: Autoscaler,
    load: Sequence[tuple[float, float]],
    capacity_rps: float,
    start_replicas: int | None = None,
    pod_ready_s: float = POD_READY_S,
    sync_s: float = SYNC_S,
    metrics_lag_s: float = 0.0,
) -> Iterator[Sync]:
    """simulate(), one sync at a time (a caller may stop early)."""
    if capacity_rps <= 0 or not math.isfinite(capacity_rps):
        raise HpaError("capacity-rps must be a finite number > 0")
    if sync_s <= 0 or not math.isfinite(sync_s) or pod_ready_s < 0 or not math.isfinite(pod_ready_s):
        raise HpaError("sync-s must be > 0 and pod-ready-s >= 0, both finite")
    if metrics_lag_s < 0 or not math.isfinite(metrics_lag_s):
        raise HpaError("metrics-lag-s must be a finite number >= 0")
    start = hpa.min_replicas if start_replicas is None else start_replicas
    if start < 1:
        raise HpaError("start-replicas must be >= 1")
    capacity = Fraction(capacity_rps)
    cohorts = [_Cohort(-math.inf, -math.inf, start)]
    history = [(-math.inf, list(cohorts))]  # the pods in place from each sync on, for the lagged reading
    controller = Controller(hpa)
    for i in range(math.floor(load[-1][0] / sync_s) + 1):
        t = i * sync_s
        rps = load_at(load, t)
        replicas = sum(c.count for c in cohorts)
        serving = sum(c.count for c in cohorts if c.ready_at <= t)
        read_at = t - metrics_lag_s
        counted = sum(c.count for c in cohorts if _counts_ready(c, t, read_at))
        usage = _usage(load, history, read_at, capacity)
        metrics = [
            PodMetric(REQUEST_MILLICORES, usage, True, counted),
            PodMetric(REQUEST_MILLICORES, usage, False, serving - counted),  # within their first metric window
            PodMetric(REQUEST_MILLICORES, 0, False, replicas - serving),
        ]
        if hpa.min_replicas <= replicas <= hpa.max_replicas:
            rec = recommend(replicas, metrics, hpa.target_utilization, hpa.tolerance_up, hpa.tolerance_down)
        else:  # the controller clamps to the bounds without reading metrics
            rec = Recommendation(None, None, "")
        new, why = controller.decide(t, replicas, rec)
        if new > replicas:
            cohorts.append(_Cohort(t, t + pod_ready_s, new - replicas))
        elif new < replicas:
            cohorts = _remove(cohorts, replicas - new, t)
        history.append((t, list(cohorts)))
        reason = f"{rec.explanation}; {why}" if rec.replicas is not None else why
        yield Sync(t, rps, new, serving, rec.utilization, rec.replicas, reason)


def _usage(
    load: Sequence[tuple[float, float]], history: Sequence[tuple[float, list[_Cohort]]], at: float, capacity: Fraction
) -> Fraction:
    """Each serving pod's CPU (millicores) at time `at`: the load then, shared by the pods serving then."""
    cohorts = next(c for since, c in reversed(history) if since <= at)
    serving = sum(c.count for c in cohorts if c.ready_at <= at)
    return REQUEST_MILLICORES * Fraction(load_at(load, at)) / serving / capacity if serving else Fraction(0)


def _remove(cohorts: list[_Cohort], n: int, t: float) -> list[_Cohort]:
    """The ReplicaSet deletes unready pods first, then the youngest."""
    kept = []
    for c in sorted(cohorts, key=lambda c: (c.ready_at <= t, -c.created)):
        gone = min(n, c.count)
        n -= gone
        if c.count > gone:
            kept.append(_Cohort(c.created, c.ready_at, c.count - gone))
    return kept


def _counts_ready(pod: _Cohort, t: float, read_at: float) -> bool:
    """groupPods for CPU: unready before ready, and within the initialization period until the reading (taken at
    `read_at`) covers one metric window after the pod became ready."""
    if pod.ready_at > t:
        return False
    if t < pod.created + CPU_INITIALIZATION_PERIOD_S:
        return read_at >= pod.ready_at + METRIC_WINDOW_S
    return True
