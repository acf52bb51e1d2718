"""`run --trials N`: the same bounded load N times, one results folder per trial (trial-1, trial-2...
under --out, or --out itself for one), judged on the median of each metric (loadtest.slo)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from loadtest import runner
from loadtest.summary import Summary


def run(cfg: runner.RunConfig, trials: int) -> Iterator[Summary]:
    """Each trial's summary as soon as it is written (a caller may stop early)."""
    for trial in range(1, trials + 1):
        out = cfg.out / f"trial-{trial}" if trials > 1 else cfg.out
        yield runner.run(dataclasses.replace(cfg, out=out, meta={**cfg.meta, "trial": trial}))


def all_failed(summaries: Sequence[Summary]) -> str | None:
    """Why the runs are never a pass, with or without an SLO: a run in which every request failed."""
    for s in summaries:
        total = s["total"]
        if total["failures"] == total["requests"]:
            worst = next(iter(total["errors"]))
            return f"every request failed ({total['requests']} of {total['requests']}, mostly {worst})"
    return None
