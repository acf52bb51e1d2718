"""The HorizontalPodAutoscaler spec as the what-if tool reads it: only the fields the controller reads
for a CPU metric, with the API defaults (autoscaling/v2 defaults.go)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loadtest.k8s_quantity import quantity

TOLERANCE = 0.1
DOWNSCALE_STABILIZATION_S = 300  # --horizontal-pod-autoscaler-downscale-stabilization
DEFAULT_CPU_UTILIZATION = 80  # the API default when spec.metrics is empty


class HpaError(ValueError):
    """A HorizontalPodAutoscaler the what-if tool cannot simulate; the message is one line."""


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
