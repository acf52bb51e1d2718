"""SLO gate: latency percentiles, error rate and throughput against limits from slo.yaml.

Noise rule for --trials N: every metric is reduced to the median of the N trials first, then
each objective is judged once. One unlucky run on a shared machine cannot fail the gate alone.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

DEFAULT_SLO = "slo.yaml"
_PERCENTILES = ("p50", "p90", "p95", "p99", "max")


@dataclass(frozen=True)
class Slo:
    latency_ms: dict[str, float]
    max_error_rate: float | None = None
    min_rps: float | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Slo:
        if not isinstance(data, dict):
            raise ValueError("SLO file must be a mapping")
        unknown = set(data) - {"latency_ms", "max_error_rate", "min_rps"}
        if unknown:
            raise ValueError(f"unknown SLO keys: {', '.join(sorted(unknown))}")
        latency = {str(k): float(v) for k, v in (data.get("latency_ms") or {}).items()}
        bad = set(latency) - set(_PERCENTILES)
        if bad:
            raise ValueError(f"unknown latency objectives {sorted(bad)}; use {', '.join(_PERCENTILES)}")
        opt = lambda key: None if data.get(key) is None else float(data[key])  # noqa: E731
        return cls(latency_ms=latency, max_error_rate=opt("max_error_rate"), min_rps=opt("min_rps"))

    @classmethod
    def load(cls, path: Path | None = None) -> Slo:
        text = path.read_text() if path else resources.files("loadtest").joinpath(DEFAULT_SLO).read_text()
        try:
            return cls.from_dict(yaml.safe_load(text))
        except (yaml.YAMLError, TypeError, ValueError) as exc:
            raise ValueError(f"{path or DEFAULT_SLO}: {exc}") from None


@dataclass(frozen=True)
class Check:
    objective: str
    limit: float
    actual: float
    passed: bool
    message: str


def metrics(summary: dict) -> dict[str, float]:
    """The gated figures of one run's total."""
    total = summary["total"]
    latency = total.get("latency_ms", {})
    return {
        **{k: latency[k] for k in _PERCENTILES if k in latency},
        "error_rate": total["error_rate"],
        "rps": total["ok_rps"],  # successful requests only: fast 503s are not throughput
    }


def median_metrics(summaries: list[dict]) -> dict[str, float]:
    """Median of each metric across trials (the stated noise rule)."""
    per_trial = [metrics(s) for s in summaries]
    keys = set.intersection(*(set(m) for m in per_trial))
    return {k: statistics.median(m[k] for m in per_trial) for k in sorted(keys)}


def evaluate(slo: Slo, measured: dict[str, float]) -> list[Check]:
    checks = []
    for p, limit in slo.latency_ms.items():
        actual = measured.get(p)
        if actual is None:  # no requests at all: the latency objective cannot be met
            checks.append(Check(f"{p} latency", limit, float("nan"), False, f"{p} latency: no requests were answered"))
            continue
        ok = actual <= limit
        over = actual - limit
        checks.append(
            Check(
                f"{p} latency",
                limit,
                actual,
                ok,
                f"{p} latency {actual:.1f} ms <= {limit:g} ms"
                if ok
                else f"{p} latency {actual:.1f} ms > {limit:g} ms limit (over by {over:.1f} ms, +{over / limit:.0%})",
            )
        )
    if slo.max_error_rate is not None:
        rate, limit = measured["error_rate"], slo.max_error_rate
        ok = rate <= limit
        checks.append(
            Check(
                "error rate",
                limit,
                rate,
                ok,
                f"error rate {rate:.2%} <= {limit:.2%}"
                if ok
                else f"error rate {rate:.2%} > {limit:.2%} limit (over by {rate - limit:.2%} points)",
            )
        )
    if slo.min_rps is not None:
        rps, limit = measured["rps"], slo.min_rps
        ok = rps >= limit
        checks.append(
            Check(
                "throughput",
                limit,
                rps,
                ok,
                f"throughput {rps:.1f} ok rps >= {limit:g} rps"
                if ok
                else f"throughput {rps:.1f} ok rps < {limit:g} rps minimum (short by {limit - rps:.1f} rps, -{(limit - rps) / limit:.0%})",
            )
        )
    return checks
