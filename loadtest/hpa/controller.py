"""The Kubernetes HorizontalPodAutoscaler controller (autoscaling/v2, CPU utilization): one sync's decision.

Follows kube-controller-manager's podautoscaler package (horizontal.go, replica_calculator.go,
metrics/utilization.go) and the API defaults (autoscaling/v2 defaults.go):

- one sync every 15 s; the scale it reads is the target's spec.replicas;
- utilization is an integer percent, sum(usage) * 100 // sum(requests), over the pods with metrics;
- ratio = utilization / target; within the tolerance (0.9 <= ratio <= 1.1; `behavior.*.tolerance`
  where set, an alpha field since 1.33) nothing changes, else desired = ceil(ratio x pods counted);
- unready pods: ignored, except on a scale-up, where they count as 0% (and a change of direction,
  or a result back within the tolerance, keeps the current scale); pods without metrics count as
  0% on a scale-up and as max(100%, target) on a scale-down;
- without `behavior`: the highest recommendation of the last 300 s, then at most max(2 x current, 4);
- with `behavior`: stabilization windows over past recommendations (scale-up: the lowest of its
  window, scale-down: the highest), then Pods/Percent policies measured from the replica count at
  the start of each policy's period (from the history of scale events), chosen by selectPolicy;
- minReplicas and maxReplicas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from loadtest.hpa.manifest import DOWNSCALE_STABILIZATION_S, TOLERANCE, Autoscaler, ScalingRules

SYNC_S = 15.0
SCALE_UP_LIMIT_FACTOR = 2
SCALE_UP_LIMIT_MINIMUM = 4


# ---- the replica calculator (replica_calculator.go GetResourceReplicas) ----


@dataclass(frozen=True)
class PodMetric:
    """`count` identical pods as the calculator sees them: CPU request and usage in millicores each
    (usage None: no metrics)."""

    request: int
    usage: Fraction | int | None
    ready: bool = True
    count: int = 1


@dataclass(frozen=True)
class Recommendation:
    replicas: int | None  # None: the controller could not compute one and skips this sync
    utilization: int | None
    explanation: str


def utilization_percent(pods: Sequence[PodMetric]) -> int:
    """sum(usage) * 100 // sum(requests), the controller's integer utilization (metrics/utilization.go)."""
    usage = sum(p.usage * p.count for p in pods if p.usage is not None)
    requests = sum(p.request * p.count for p in pods)
    return math.floor(Fraction(usage * 100) / requests)


def recommend(
    current: int,
    pods: Sequence[PodMetric],
    target: int,
    tolerance_up: float = TOLERANCE,
    tolerance_down: float = TOLERANCE,
) -> Recommendation:
    """The replica count the controller proposes for one CPU utilization metric, before behavior and limits."""

    def within(ratio: float) -> bool:
        # Float arithmetic on purpose: the controller compares float64 values, boundaries included.
        return (1.0 - tolerance_down) <= ratio <= (1.0 + tolerance_up)

    ready = [p for p in pods if p.ready and p.usage is not None and p.count]
    unready = [p for p in pods if not p.ready and p.count]
    missing = [p for p in pods if p.ready and p.usage is None and p.count]
    n_ready, n_unready, n_missing = (sum(p.count for p in group) for group in (ready, unready, missing))
    if not ready:
        return Recommendation(None, None, "no ready pod has metrics yet: the controller skips this sync")
    utilization = utilization_percent(ready)
    ratio = utilization / target
    if not (unready and ratio > 1.0) and not missing:
        if within(ratio):
            return Recommendation(current, utilization, f"ratio {ratio:.2f} is within the tolerance: no change")
        desired = math.ceil(ratio * n_ready)
        return Recommendation(desired, utilization, f"ceil({n_ready} x {utilization}/{target}) = {desired}")
    counted = list(ready)
    if missing and ratio < 1.0:
        fallback = max(100, target)
        counted += [PodMetric(p.request, p.request * fallback // 100, count=p.count) for p in missing]
    elif missing and ratio > 1.0:
        counted += [PodMetric(p.request, 0, count=p.count) for p in missing]
    if unready and ratio > 1.0:
        counted += [PodMetric(p.request, 0, count=p.count) for p in unready]
    new_ratio = utilization_percent(counted) / target
    if within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return Recommendation(
            current,
            utilization,
            f"ratio {ratio:.2f}, {new_ratio:.2f} counting {n_unready} unready and {n_missing} missing pods "
            "at 0%/100%: within the tolerance or a change of direction, no change",
        )
    n_counted = sum(p.count for p in counted)
    desired = math.ceil(new_ratio * n_counted)
    if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):
        return Recommendation(current, utilization, "counting unready/missing pods reverses the direction: no change")
    note = f"ceil({n_counted} x {new_ratio:.2f}) = {desired}, counting {n_counted - n_ready} not-ready pods at 0%"
    return Recommendation(desired, utilization, note)


# ---- normalization: stabilization, behavior policies, min/max (horizontal.go) ----


@dataclass
class _Event:
    t: float
    change: int
    outdated: bool = False


@dataclass
class Controller:
    """The controller's memory for one HPA: past recommendations and scale events."""

    hpa: Autoscaler
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[_Event] = field(default_factory=list)
    down_events: list[_Event] = field(default_factory=list)

    def decide(self, t: float, current: int, rec: Recommendation) -> tuple[int, str]:
        """The new scale and a sentence saying why, for a recommendation computed at time t."""
        hpa = self.hpa
        if not self.recommendations:
            self.recommendations.append((t, current))  # recordInitialRecommendation
        if current > hpa.max_replicas:
            new, why = hpa.max_replicas, f"{current} replicas is above maxReplicas {hpa.max_replicas}"
        elif current < hpa.min_replicas:
            new, why = hpa.min_replicas, f"{current} replicas is below minReplicas {hpa.min_replicas}"
        elif rec.replicas is None:
            return current, rec.explanation
        elif hpa.scale_up is None or hpa.scale_down is None:
            new, why = self._without_behavior(t, current, rec.replicas)
        else:
            new, why = self._with_behavior(t, current, rec.replicas, hpa.scale_up, hpa.scale_down)
        if new != current:
            self._store_event(t, current, new)
        return new, why

    def _without_behavior(self, t: float, current: int, desired: int) -> tuple[int, str]:
        cutoff = t - DOWNSCALE_STABILIZATION_S
        recent = [r for ts, r in self.recommendations if not ts < cutoff]
        self.recommendations = [(ts, r) for ts, r in self.recommendations if not ts < cutoff] + [(t, desired)]
        stabilized = max([desired, *recent])
        why = ""
        if stabilized != desired:
            why = f"held at {stabilized}, the highest recommendation of the last {DOWNSCALE_STABILIZATION_S} s; "
        hpa = self.hpa
        limit = max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM)
        if stabilized < hpa.min_replicas:
            return hpa.min_replicas, why + f"held at minReplicas {hpa.min_replicas}"
        if stabilized > min(limit, hpa.max_replicas):
            if hpa.max_replicas > limit:
                return limit, why + f"scale-up limited to max(2 x {current}, 4) = {limit}"
            return hpa.max_replicas, why + f"held at maxReplicas {hpa.max_replicas}"
        return stabilized, why + ("no change" if stabilized == current else f"scale to {stabilized}")

    def _with_behavior(
        self, t: float, current: int, desired: int, up: ScalingRules, down: ScalingRules
    ) -> tuple[int, str]:
        up_cutoff, down_cutoff = t - up.stabilization_s, t - down.stabilization_s
        up_rec = min([desired, *(r for ts, r in self.recommendations if ts > up_cutoff)])
        down_rec = max([desired, *(r for ts, r in self.recommendations if ts > down_cutoff)])
        # The controller overwrites one sample older than both windows; dropping them all is equivalent.
        self.recommendations = [(ts, r) for ts, r in self.recommendations if not (ts < up_cutoff and ts < down_cutoff)]
        self.recommendations.append((t, desired))
        stabilized = min(max(current, up_rec), down_rec)
        why = ""
        if stabilized != desired:
            if desired >= current:
                why = f"held at {stabilized}, the lowest recommendation of the last {up.stabilization_s} s; "
            else:
                why = f"held at {stabilized}, the highest recommendation of the last {down.stabilization_s} s; "
        hpa = self.hpa
        if stabilized > current:
            limit, policy = self._limit(t, current, up, +1)
            limit = max(limit, current)
            if stabilized > min(limit, hpa.max_replicas):
                if hpa.max_replicas > limit:
                    return limit, why + f"scale-up limited to {limit} by {policy}"
                return hpa.max_replicas, why + f"held at maxReplicas {hpa.max_replicas}"
        elif stabilized < current:
            limit, policy = self._limit(t, current, down, -1)
            limit = min(limit, current)
            if stabilized < max(limit, hpa.min_replicas):
                if hpa.min_replicas < limit:
                    return limit, why + f"scale-down limited to {limit} by {policy}"
                return hpa.min_replicas, why + f"held at minReplicas {hpa.min_replicas}"
        return stabilized, why + ("no change" if stabilized == current else f"scale to {stabilized}")

    def _limit(self, t: float, current: int, rules: ScalingRules, sign: int) -> tuple[int, str]:
        """calculateScale{Up,Down}Limit...: the bound the policies allow now, and the policy that sets it."""
        if rules.select_policy == "Disabled":
            return current, f"selectPolicy Disabled ({'scale-up' if sign > 0 else 'scale-down'} is off)"
        # Max picks the policy allowing the biggest change; Min the smallest.
        pick = max if (rules.select_policy == "Max") == (sign > 0) else min
        best: tuple[int, str] | None = None
        for p in rules.policies:
            added = sum(e.change for e in self.up_events if e.t > t - p.period_seconds)
            removed = sum(e.change for e in self.down_events if e.t > t - p.period_seconds)
            start = current - added + removed
            if p.type == "Pods":
                proposed = start + sign * p.value
            elif sign > 0:
                proposed = math.ceil(start * (1 + p.value / 100))
            else:
                proposed = int(start * (1 - p.value / 100))
            label = f"policy {p.type} {p.value}{'%' if p.type == 'Percent' else ''}/{p.period_seconds}s"
            if best is None or pick(proposed, best[0]) != best[0]:
                best = (
                    proposed,
                    f"{label} (from {start} at the start of its period, selectPolicy {rules.select_policy})",
                )
        assert best is not None, "the API requires at least one policy unless selectPolicy is Disabled"
        return best

    def _store_event(self, t: float, previous: int, new: int) -> None:
        """storeScaleEvent: events older than the direction's longest policy period are overwritten."""
        if self.hpa.scale_up is None or self.hpa.scale_down is None:
            return  # without behavior the controller keeps no events
        rules, events = (
            (self.hpa.scale_up, self.up_events) if new > previous else (self.hpa.scale_down, self.down_events)
        )
        longest = max((p.period_seconds for p in rules.policies), default=0)
        for e in events:
            if e.t < t - longest:
                e.outdated = True
        event = _Event(t, abs(new - previous))
        outdated = [i for i, e in enumerate(events) if e.outdated]
        if outdated:
            events[outdated[-1]] = event
        else:
            events.append(event)
