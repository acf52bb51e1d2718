"""SLO gate: latency percentiles, error rate and throughput against limits from slo.yaml.

Latency objectives are judged on successful requests only; failures count in the error rate
(usual SRE practice), so a target answering fast errors cannot pass on latency.

Noise rule for --trials N (N odd): every metric is reduced to the median of the N trials first,
then each objective is judged once, on the middle trial's figure. With 3 or more trials one
unlucky run on a shared machine cannot fail the gate alone (an even N has no middle trial:
the median would be the mean of two, which one bad run can move, so the CLI refuses it).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

DEFAULT_SLO = "slo.yaml"
_PERCENTILES = ("p50", "p90", "p95", "p99", "max")
Percentile = Literal["p50", "p90", "p95", "p99", "max"]


class Slo(BaseModel):
    """The SLO file. Strict: unknown keys, limits <= 0 and strings where numbers belong are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    latency_ms: dict[Percentile, PositiveFloat] = Field(default_factory=dict)
    max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    min_rps: PositiveFloat | None = None

    @model_validator(mode="after")
    def _has_an_objective(self) -> Slo:
        if not self.latency_ms and self.max_error_rate is None and self.min_rps is None:
            raise ValueError("no objective: set latency_ms, max_error_rate or min_rps")
        return self

    @classmethod
    def from_dict(cls, data: object) -> Slo:
        """Raises ValueError with one line naming each offending key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(_one_line(exc)) from None

    @classmethod
    def load(cls, path: Path | None = None) -> Slo:
        name = path or DEFAULT_SLO
        try:
            text = path.read_text() if path else resources.files("loadtest").joinpath(DEFAULT_SLO).read_text()
            return cls.from_dict(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise ValueError(f"{name}: not valid YAML ({' '.join(str(exc).split())})") from None
        except RecursionError:
            raise ValueError(f"{name}: nested too deep to be an SLO file") from None
        except UnicodeDecodeError:
            raise ValueError(f"{name}: not UTF-8 text") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{name}: {exc}") from None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "[key]")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (allowed: latency_ms, max_error_rate, min_rps)"
        elif err["type"] == "literal_error":
            msg = f"unknown latency objective (use {', '.join(_PERCENTILES)})"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


@dataclass(frozen=True)
class Check:
    objective: str
    limit: float
    actual: float
    passed: bool
    message: str


def metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """The gated figures of one run's total. A Mapping, not only a loadtest.summary.Summary: the grader passes
    learners' summary.json unvalidated and turns a KeyError or TypeError into its verdict."""
    total = summary["total"]
    latency = total.get("latency_ms", {})
    return {
        **{k: latency[k] for k in _PERCENTILES if k in latency},
        "error_rate": total["error_rate"],
        "rps": total["ok_rps"],  # successful requests only: fast 503s are not throughput
    }


def median_metrics(summaries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Median of each metric across trials (the stated noise rule; for an even count, the mean of the
    middle two). A latency figure is there only when every trial had a successful request."""
    per_trial = [metrics(s) for s in summaries]
    keys = set.intersection(*(set(m) for m in per_trial))
    return {k: statistics.median(m[k] for m in per_trial) for k in sorted(keys)}


def evaluate(slo: Slo, measured: dict[str, float]) -> list[Check]:
    checks = []
    for p, limit in slo.latency_ms.items():
        actual = measured.get(p)
        if actual is None:  # no successful request: the latency objective cannot be met
            checks.append(Check(f"{p} latency", limit, float("nan"), False, f"{p} latency: no request succeeded"))
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
                else f"throughput {rps:.1f} ok rps < {limit:g} rps minimum "
                f"(short by {limit - rps:.1f} rps, -{(limit - rps) / limit:.0%})",
            )
        )
    return checks


def judge(slo: Slo, summaries: Sequence[Mapping[str, Any]], out: Path) -> tuple[str, list[Check]]:
    """The gate over one or more trials: the rule applied and the checks; writes the verdict to out/slo.json
    (the file the lab 06 grader compares with its own recomputation)."""
    measured = median_metrics(summaries)
    rule = "single run" if len(summaries) == 1 else f"median of {len(summaries)} trials per metric"
    checks = evaluate(slo, measured)
    passed = all(c.passed for c in checks)
    verdict = {"rule": rule, "measured": measured, "passed": passed, "checks": [c.__dict__ for c in checks]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "slo.json").write_text(json.dumps(verdict, indent=2) + "\n")
    return rule, checks
