"""The trade-off table (`tradeoffs.csv`): its columns and the Pareto dominance rule, shared by the study
that writes it (loadtest.studies.tradeoffs) and the grader that judges a choice from it (lab 07).

Dominated: another configuration of the same family (same quality metric) is no worse on cost and
quality and better on one; cost differences within the noise margin (the larger of the stated margin
and either row's CPU spread over its repeats) are ties, quality is compared exactly.
"""

from __future__ import annotations

import math

NOISE_MARGIN = 0.10  # relative cost differences within which two configurations tie

# tradeoffs.csv columns: the grader reads config (the id), slo, usd_per_million and pareto; keep the names stable.
COLUMNS = [
    "config",
    "description",
    "model",
    "version",
    "precision",
    "quality_metric",
    "quality",
    "size_mb",
    "vcpus",
    "offered_rps",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "server_queue_ms",
    "server_inference_ms",
    "batch_rows",
    "cpu_ms_per_request",
    "cpu_spread",
    "slo",
    "replicas",
    "usd_per_million",
    "noise_margin",
    "pareto",
]


def row_cost(r: dict) -> float:
    """A row's dollars per million requests; a row without one (SLO missed) is the worst."""
    return r["usd_per_million"] if r["usd_per_million"] != "" else math.inf


def beats(o: dict, r: dict, margin: float = NOISE_MARGIN) -> bool:
    """o dominates r (same family): no worse on cost and quality, better on one. Costs within the margin tie;
    the margin is the larger of `margin` and the CPU spread either row measured over its repeats."""
    if o is r or o["quality_metric"] != r["quality_metric"]:
        return False
    m = max(margin, float(o.get("cpu_spread") or 0), float(r.get("cpu_spread") or 0))
    a, b = row_cost(o), row_cost(r)
    cost = 0 if a == b or (a * (1 + m) >= b and b * (1 + m) >= a) else (-1 if a < b else 1)
    quality = 0 if o["quality"] == r["quality"] else (-1 if o["quality"] > r["quality"] else 1)
    return max(cost, quality) <= 0 and min(cost, quality) < 0


def dominated(rows: list[dict], margin: float = NOISE_MARGIN) -> set[str]:
    """Ids beaten by another configuration of the same family (see `beats`)."""
    return {r["config"] for r in rows if any(beats(o, r, margin) for o in rows)}
