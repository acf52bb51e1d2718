"""Lab 07: quantization must not collapse quality. Reads the learner's trade-off table, where each
row carries its model card's quality figure; an int8 row is compared with the fp32 row of the same model."""

from __future__ import annotations

from grader.catalog import register
from grader.checks.decision import TABLE, number, table
from grader.context import Context
from grader.verdict import Verdict


@register("cards.quantized_quality")
def quantized_quality(ctx: Context, results: str = TABLE, max_drop: float = 0.02) -> Verdict:
    rows = table(ctx, results)
    fp32 = {r["model"]: number(r["quality"]) for r in rows if r["precision"] == "fp32"}
    problems, compared = [], 0
    for r in rows:
        base = fp32.get(r["model"])
        if r["precision"] != "int8" or base is None:
            continue
        compared += 1
        drop = base - number(r["quality"])
        if not drop <= max_drop:
            problems.append(
                f"{r['config']}: {r['quality_metric']} {r['quality']} is {drop:.3f} below fp32 ({base:g}), "
                f"more than {max_drop:g}; "
                "rebuild the int8 model (per-channel weights, calibration data) before choosing it"
            )
    if not compared:
        problems.append(f"{results} has no int8 row with an fp32 sibling; run the study with the quantized models")
    return Verdict(problems, info=f"{compared} int8 model(s) within {max_drop:g} of fp32")
