"""Lab 06: the learner's SLO file and load-test results, judged with loadtest's own SLO rules.

The verdict is recomputed from summary.json with the learner's slo.yaml (loadtest.slo), so an
edited slo.json cannot pass; with trials, the median of each metric is judged (the noise rule).
"""

from __future__ import annotations

import math
from pathlib import Path

from grader.catalog import register
from grader.context import Context
from grader.verdict import Fail, Verdict
from loadtest import slo as slo_mod
from loadtest.summary import Summary

SLO = "labs/06-measure/slo.yaml"
RESULTS = "labs/06-measure/results"


def load_slo(ctx: Context, path: str) -> slo_mod.Slo:
    try:
        return slo_mod.Slo.from_dict(ctx.yaml(path))
    except (TypeError, ValueError) as exc:
        raise Fail(f"{path}: {exc}") from None


def summaries(ctx: Context, results: str) -> list[Summary]:
    """The run's summary.json, or one per trial (trial-N/summary.json)."""
    root = ctx.root / results
    rels = [f"{results}/summary.json"] if (root / "summary.json").exists() else []
    rels = rels or sorted(str(p.relative_to(ctx.root)) for p in root.glob("trial-*/summary.json"))
    if not rels:
        raise Fail(f"no {results}/summary.json: run the lab's `python -m loadtest run ... --out {results}` step")
    out = []
    for rel in rels:
        data = ctx.json(rel)
        try:
            m = slo_mod.metrics(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise Fail(f"{rel} is not a loadtest summary (missing {exc}); rerun the load test") from None
        bad = [k for k, v in m.items() if not isinstance(v, int | float) or math.isnan(v) or v < 0]
        if bad:
            raise Fail(f"{rel}: {', '.join(bad)} are not non-negative numbers")
        if not data["total"].get("requests"):
            raise Fail(f"{rel}: no request was answered during the run; is the server up?")
        out.append(data)
    return out


@register("results.slo_file")
def slo_file(ctx: Context, path: str = SLO) -> Verdict:
    slo = load_slo(ctx, path)
    problems = []
    if not slo.latency_ms:
        problems.append(f"{path} has no latency_ms objective; add e.g. `p95: 250`")
    if slo.max_error_rate is None:
        problems.append(f"{path} has no max_error_rate; add e.g. `max_error_rate: 0.01`")
    return Verdict(
        problems, info=f"objectives: {', '.join(slo.latency_ms)} latency, error rate, {slo.min_rps or 0:g} rps"
    )


@register("results.summary")
def summary(ctx: Context, results: str = RESULTS) -> Verdict:
    runs = summaries(ctx, results)
    total = sum(s["total"]["requests"] for s in runs)
    return Verdict(info=f"{len(runs)} run(s), {total} requests")


@register("results.slo_met")
def slo_met(ctx: Context, slo: str = SLO, results: str = RESULTS) -> Verdict:
    objectives = load_slo(ctx, slo)
    runs = summaries(ctx, results)
    measured = slo_mod.median_metrics(runs)
    checks = slo_mod.evaluate(objectives, measured)
    rule = "single run" if len(runs) == 1 else f"median of {len(runs)} trials per metric"
    problems = [f"{c.message} ({rule})" for c in checks if not c.passed]
    verdict_file = Path(results) / "slo.json"
    if ctx.exists(str(verdict_file)):
        claimed = ctx.json(str(verdict_file)).get("passed")
        if claimed is not (not problems):
            problems.append(
                f"{verdict_file} says passed={claimed}, but the summary gives the opposite; rerun the load test"
            )
    else:
        problems.append(f"no {verdict_file}: run the load test with --slo {slo}")
    return Verdict(problems, info="; ".join(c.message for c in checks) + f" ({rule})")
