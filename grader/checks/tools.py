"""Lab 00: the tools the labs need are installed, judged by `make doctor`'s own tool diagnosis
(grader.ops.doctor.check_tools: presence and minimum versions, each with its fix)."""

from __future__ import annotations

from grader.catalog import register
from grader.context import Context
from grader.ops import doctor
from grader.verdict import Verdict


@register("tools.present")
def tools_present(ctx: Context, tools: list[str]) -> Verdict:
    found = [d for d in doctor.check_tools() if d.topic in tools]
    problems = [f"{d.message}: {d.fix}" for d in found if d.level != "ok"]
    missing = sorted(set(tools) - {d.topic for d in found})
    problems += [f"{t}: not diagnosed by make doctor" for t in missing]
    return Verdict(problems, info="; ".join(d.message for d in found if d.level == "ok"))
