"""HPA what-if: the Kubernetes HorizontalPodAutoscaler controller (autoscaling/v2, CPU utilization), simulated.

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

Model of the pods (the simulation's assumptions, not the controller's):
- every serving (ready) pod takes an equal share of the load, and its CPU usage is
  100 x share / capacity-rps percent of its request, exactly (no noise, no CPU limit cap);
- a new pod is created at the sync that scales up and becomes ready pod-ready-s later; before that
  it is unready. During the controller's CPU initialization period (300 s after the pod started), a
  ready pod still counts as unready until one metric window (15 s, metrics-server's resolution) of
  usage has been collected since it became ready; metrics are read fresh at each sync;
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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loadtest.k8s_quantity import quantity

SYNC_S = 15.0
TOLERANCE = 0.1
DOWNSCALE_STABILIZATION_S = 300  # --horizontal-pod-autoscaler-downscale-stabilization
CPU_INITIALIZATION_PERIOD_S = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
METRIC_WINDOW_S = 15.0  # metrics-server's default --metric-resolution
POD_READY_S = 20.0  # the what-if tool's default time from a pod's creation to ready
SCALE_UP_LIMIT_FACTOR = 2
SCALE_UP_LIMIT_MINIMUM = 4
DEFAULT_CPU_UTILIZATION = 80  # the API default when spec.metrics is empty
REQUEST_MILLICORES = 1000  # the utilization percent does not depend on it: every pod requests the same


class HpaError(ValueError):
    """A HorizontalPodAutoscaler the what-if tool cannot simulate; the message is one line."""


# ---- the HorizontalPodAutoscaler spec (only the fields the controller reads for a CPU metric) ----


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Policy(_Model):
    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_seconds: int = Field(alias="periodSeconds", gt=0, le=1800)


class _RulesSpec(_Model):
    stabilization_window_seconds: int | None = Field(None, alias="stabilizationWindowSeconds", ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] | None = Field(None, alias="selectPolicy")
    policies: list[Policy] | None = None
    tolerance: float | str | None = None  # a Quantity; alpha since 1.33 (feature gate HPAConfigurableTolerance)


class _BehaviorSpec(_Model):
    scale_up: _RulesSpec | None = Field(None, alias="scaleUp")
    scale_down: _RulesSpec | None = Field(None, alias="scaleDown")


class _Spec(_Model):
    min_replicas: int = Field(1, alias="minReplicas", ge=1)
    max_replicas: int = Field(alias="maxReplicas", ge=1)
    metrics: list[dict[str, Any]] | None = None
    behavior: _BehaviorSpec | None = None


@dataclass(frozen=True)
class ScalingRules:
    stabilization_s: int
    select_policy: str  # Max, Min or Disabled
    policies: tuple[Policy, ...]


# API defaults (autoscaling/v2 SetDefaults_HorizontalPodAutoscalerBehavior); the scale-down window,
# when unset, is the controller's --horizontal-pod-autoscaler-downscale-stabilization (300 s).
_UP_DEFAULT = ScalingRules(
    0, "Max", (Policy(type="Pods", value=4, periodSeconds=15), Policy(type="Percent", value=100, periodSeconds=15))
)
_DOWN_DEFAULT = ScalingRules(DOWNSCALE_STABILIZATION_S, "Max", (Policy(type="Percent", value=100, periodSeconds=15),))


def _rules(spec: _RulesSpec | None, default: ScalingRules) -> ScalingRules:
    if spec is None:
        return default
    return ScalingRules(
        default.stabilization_s if spec.stabilization_window_seconds is None else spec.stabilization_window_seconds,
        spec.select_policy or default.select_policy,
        default.policies if spec.policies is None else tuple(spec.policies),
    )


@dataclass(frozen=True)
class Autoscaler:
    name: str
    min_replicas: int
    max_replicas: int
    target_utilization: int  # percent of the CPU request
    scale_up: ScalingRules | None  # None: no `behavior` in the spec (the older, fixed rules apply)
    scale_down: ScalingRules | None
    notes: tuple[str, ...] = ()
    tolerance_up: float = TOLERANCE
    tolerance_down: float = TOLERANCE

    @property
    def has_behavior(self) -> bool:
        return self.scale_up is not None


def _cpu_target(metrics: list[dict[str, Any]] | None) -> tuple[int, tuple[str, ...]]:
    if not metrics:
        return DEFAULT_CPU_UTILIZATION, (f"spec.metrics is empty: the API default, CPU at {DEFAULT_CPU_UTILIZATION}%",)
    if len(metrics) > 1:
        kinds = ", ".join(str(m.get("type")) for m in metrics)
        raise HpaError(f"spec.metrics has {len(metrics)} metrics ({kinds}); the what-if tool simulates one CPU metric")
    metric = metrics[0]
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    if metric.get("type") != "Resource" or resource.get("name") != "cpu" or target.get("type") != "Utilization":
        described = f"type {metric.get('type')}, {resource.get('name')}, target {target.get('type')}"
        raise HpaError(f"unsupported metric ({described}): only a Resource cpu metric with a Utilization target")
    value = target.get("averageUtilization")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise HpaError(f"spec.metrics[0].resource.target.averageUtilization must be an integer >= 1, got {value!r}")
    return value, ()


def parse_hpa(documents: Sequence[Any]) -> Autoscaler:
    """The one HorizontalPodAutoscaler among parsed YAML documents (a rendered overlay, a List...)."""
    objects: list[dict[str, Any]] = []
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects.extend(item for item in doc.get("items") or [] if isinstance(item, dict))
        elif isinstance(doc, dict):
            objects.append(doc)
    hpas = [o for o in objects if o.get("kind") == "HorizontalPodAutoscaler"]
    if not hpas:
        raise HpaError("no HorizontalPodAutoscaler in the file")
    if len(hpas) > 1:
        names = ", ".join(str((h.get("metadata") or {}).get("name")) for h in hpas)
        raise HpaError(f"{len(hpas)} HorizontalPodAutoscalers in the file ({names}); give a file with one")
    hpa = hpas[0]
    name = str((hpa.get("metadata") or {}).get("name", "?"))
    if hpa.get("apiVersion") != "autoscaling/v2":
        raise HpaError(f"HorizontalPodAutoscaler {name}: apiVersion {hpa.get('apiVersion')!r}, expected autoscaling/v2")
    try:
        spec = _Spec.model_validate(hpa.get("spec") or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise HpaError(f"HorizontalPodAutoscaler {name}: spec.{where}: {err['msg']}") from None
    if spec.max_replicas < spec.min_replicas:
        raise HpaError(
            f"HorizontalPodAutoscaler {name}: maxReplicas {spec.max_replicas} < minReplicas {spec.min_replicas}"
        )
    target, notes = _cpu_target(spec.metrics)
    up = down = None
    tolerances = [TOLERANCE, TOLERANCE]
    if spec.behavior is not None:
        up = _rules(spec.behavior.scale_up, _UP_DEFAULT)
        down = _rules(spec.behavior.scale_down, _DOWN_DEFAULT)
        for i, (field_name, rules) in enumerate(
            (("scaleUp", spec.behavior.scale_up), ("scaleDown", spec.behavior.scale_down))
        ):
            if rules is not None and rules.tolerance is not None:
                tolerances[i] = _quantity(rules.tolerance, f"spec.behavior.{field_name}.tolerance")
    return Autoscaler(name, spec.min_replicas, spec.max_replicas, target, up, down, notes, *tolerances)


def _quantity(value: float | str, where: str) -> float:
    try:
        return quantity(value)
    except ValueError as exc:
        raise HpaError(f"{where}: {exc}") from None


def load_hpa(path: Path) -> Autoscaler:
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise HpaError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HpaError(f"{path} is not UTF-8 text: is it the HorizontalPodAutoscaler YAML?") from None
    except yaml.YAMLError as exc:
        raise HpaError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise HpaError(f"{path} is nested too deep to be a HorizontalPodAutoscaler") from None
    return parse_hpa(documents)


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


# ---- the simulation ----


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
) -> list[Sync]:
    """One Sync per controller sync from t=0 to the last load row's t."""
    return list(timeline(hpa, load, capacity_rps, start_replicas, pod_ready_s, sync_s))


def timeline(
    hpa: Autoscaler,
    load: Sequence[tuple[float, float]],
    capacity_rps: float,
    start_replicas: int | None = None,
    pod_ready_s: float = POD_READY_S,
    sync_s: float = SYNC_S,
) -> Iterator[Sync]:
    """simulate(), one sync at a time (a caller may stop early)."""
    if capacity_rps <= 0 or not math.isfinite(capacity_rps):
        raise HpaError("capacity-rps must be a finite number > 0")
    if sync_s <= 0 or not math.isfinite(sync_s) or pod_ready_s < 0 or not math.isfinite(pod_ready_s):
        raise HpaError("sync-s must be > 0 and pod-ready-s >= 0, both finite")
    start = hpa.min_replicas if start_replicas is None else start_replicas
    if start < 1:
        raise HpaError("start-replicas must be >= 1")
    capacity = Fraction(capacity_rps)
    cohorts = [_Cohort(-math.inf, -math.inf, start)]
    controller = Controller(hpa)
    for i in range(math.floor(load[-1][0] / sync_s) + 1):
        t = i * sync_s
        rps = load_at(load, t)
        replicas = sum(c.count for c in cohorts)
        serving = sum(c.count for c in cohorts if c.ready_at <= t)
        counted = sum(c.count for c in cohorts if _counts_ready(c, t))
        usage = REQUEST_MILLICORES * Fraction(rps) / serving / capacity if serving else Fraction(0)
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
        reason = f"{rec.explanation}; {why}" if rec.replicas is not None else why
        yield Sync(t, rps, new, serving, rec.utilization, rec.replicas, reason)


def _remove(cohorts: list[_Cohort], n: int, t: float) -> list[_Cohort]:
    """The ReplicaSet deletes unready pods first, then the youngest."""
    kept = []
    for c in sorted(cohorts, key=lambda c: (c.ready_at <= t, -c.created)):
        gone = min(n, c.count)
        n -= gone
        if c.count > gone:
            kept.append(_Cohort(c.created, c.ready_at, c.count - gone))
    return kept


def _counts_ready(pod: _Cohort, t: float) -> bool:
    """groupPods for CPU: unready before ready, and within the initialization period until one metric window passed."""
    if pod.ready_at > t:
        return False
    if t < pod.created + CPU_INITIALIZATION_PERIOD_S:
        return t >= pod.ready_at + METRIC_WINDOW_S
    return True
