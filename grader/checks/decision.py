"""Lab 07: decision.md against the learner's own trade-off table (results/tradeoffs.csv).

The table's columns are read from loadtest.tradeoff_table.COLUMNS at run time, so the check
follows the study when its table changes. The choice must exist, have met the SLO, be on the
Pareto front (recomputed with the study's own rule: cost and quality, cost differences within the
table's noise margin are ties, so thirty noisy tables are judged by the same tolerance), and its
quoted cost must match.
"""

from __future__ import annotations

import csv
import io
import math
import re

from grader.catalog import register
from grader.context import Context
from grader.verdict import Fail, Verdict
from loadtest import tradeoff_table as tradeoffs

DECISION = "labs/07-optimize/decision.md"
TABLE = "labs/07-optimize/results/tradeoffs.csv"
# "Chosen configuration: `digits-int8`" (bold, colon and backticks optional).
CHOSEN = re.compile(r"(?im)^\W*chosen(?:\s+configuration)?\W*[:=-]\s*\W*([A-Za-z0-9][A-Za-z0-9_.-]*)")
# "$0.0123 per million requests" / "cost per million requests: 0.0123 USD"
_COST = re.compile(r"(?i)\$\s*([0-9]+(?:\.[0-9]+)?)|([0-9]+(?:\.[0-9]+)?)\s*(?:usd|dollars)")


def table(ctx: Context, path: str = TABLE) -> list[dict]:
    reader = csv.DictReader(io.StringIO(ctx.text(path)))
    header = reader.fieldnames or []
    missing = [c for c in tradeoffs.COLUMNS if c not in header]
    if missing:
        raise Fail(f"{path} lacks the columns {', '.join(missing)}: regenerate it with `python -m loadtest tradeoffs`")
    rows = list(reader)
    if not rows:
        raise Fail(f"{path} has no rows; rerun the trade-off study")
    return rows


def number(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def rivals(rows: list[dict], config: str) -> list[str]:
    """The configurations that dominate `config` by the study's own rule (loadtest.tradeoff_table.beats), with
    the noise margin the table was made with: a choice within the noise of the front is on it."""
    typed = [
        {
            **r,
            "quality": number(r["quality"]),
            "usd_per_million": r["usd_per_million"] and number(r["usd_per_million"]),
        }
        for r in rows
    ]
    mine = next(r for r in typed if r["config"] == config)
    margin = number(mine.get("noise_margin", ""))
    margin = tradeoffs.NOISE_MARGIN if math.isnan(margin) else margin
    return [o["config"] for o in typed if tradeoffs.beats(o, mine, margin)]


def quoted_cost(text: str) -> float | None:
    for line in text.splitlines():
        if "million" in line.lower():
            m = _COST.search(line)
            if m:
                return float(m.group(1) or m.group(2))
    return None


@register("decision.choice")
def choice(ctx: Context, decision: str = DECISION, results: str = TABLE, tolerance: float = 0.0001) -> Verdict:
    text = ctx.text(decision)
    m = CHOSEN.search(text)
    if not m:
        raise Fail(f"{decision} names no choice: add a line `Chosen configuration: <config id from {results}>`")
    chosen = m.group(1)
    rows = table(ctx, results)
    by_id = {r["config"]: r for r in rows}
    row = by_id.get(chosen)
    if row is None:
        raise Fail(f"{chosen!r} is not a configuration of {results} (has: {', '.join(sorted(by_id))})")
    parts: dict[str, list[str]] = {"met_slo": [], "pareto": [], "cost": []}
    if row["slo"] != "met":
        parts["met_slo"].append(f"{chosen} did not meet the SLO ({row['slo']}); choose a configuration that did")
    beaten_by = rivals(rows, chosen)
    if beaten_by:
        best = by_id[beaten_by[0]]
        parts["pareto"].append(
            f"{chosen} is dominated by {', '.join(beaten_by)}: {best['config']} costs ${best['usd_per_million']} "
            f"against ${row['usd_per_million'] or 'no cost'} per million (beyond the noise margin) with quality "
            f"{best['quality']} against {row['quality']}; pick one on the Pareto front"
        )
    table_cost = number(row["usd_per_million"])
    cost = quoted_cost(text)
    # The table rounds to 4 decimals: one unit of the last digit, or 2% for large costs.
    allowed = max(tolerance, 0.02 * table_cost) if not math.isnan(table_cost) else tolerance
    if cost is None:
        parts["cost"].append(f"{decision} quotes no cost: add `Cost: $X per million requests` from the table")
    elif math.isnan(table_cost) or abs(cost - table_cost) > allowed:
        said = row["usd_per_million"] or "no cost (SLO missed)"
        parts["cost"].append(
            f"quoted ${cost:g} per million, the table says {said} (tolerance ${allowed:g}); quote the table's figure"
        )
    return Verdict(
        parts=parts, info=f"{chosen}: met the SLO, on the Pareto front, ${table_cost:g} per million requests"
    )
