"""Terminal tables (rich) for run summaries and SLO verdicts."""

from __future__ import annotations

import sys
from typing import Literal

from rich.console import Console
from rich.table import Table

from loadtest.slo import Check
from loadtest.summary import GroupStats, Summary

# Logs and CI have no terminal width: do not squeeze the tables into 80 columns there.
console = Console(width=None if sys.stdout.isatty() else 160)


def _row(name: str, stats: GroupStats) -> list[str]:
    lat = stats.get("latency_ms", {})
    fmt = lambda k: f"{lat[k]:.1f}" if k in lat else "-"  # noqa: E731
    return [
        name,
        str(stats["requests"]),
        f"{stats['rps']:.1f}",
        fmt("p50"),
        fmt("p95"),
        fmt("p99"),
        fmt("max"),
        f"{stats['error_rate']:.2%}",
    ]


def table(summary: Summary, by: Literal["endpoints", "models"] = "endpoints", title: str | None = None) -> Table:
    """One row per endpoint (or per model) plus the total."""
    t = Table(title=title or f"{summary['target']}  ({summary['window_s']:.1f} s window, exact percentiles)")
    for col in (
        "name" if by == "endpoints" else "model",
        "requests",
        "rps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
    ):
        t.add_column(col, justify="left" if col in ("name", "model") else "right", no_wrap=True)
    for name, stats in summary[by].items():
        t.add_row(*_row(name, stats))
    t.add_row(*_row("total", summary["total"]), style="bold")
    return t


def errors_table(summary: Summary) -> Table | None:
    errors = summary["total"]["errors"]
    if not errors:
        return None
    t = Table(title="errors by type")
    t.add_column("type")
    t.add_column("count", justify="right")
    for kind, n in errors.items():
        t.add_row(kind, str(n))
    return t


def print_summary(summary: Summary, by: Literal["endpoints", "models"] = "endpoints") -> None:
    console.print(table(summary, by))
    if (errors := errors_table(summary)) is not None:
        console.print(errors)


def print_checks(checks: list[Check], rule: str) -> None:
    for c in checks:
        mark = "[green]PASS[/green]" if c.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {c.message}", highlight=False)
    failed = [c for c in checks if not c.passed]
    verdict = "[green]SLO met[/green]" if not failed else f"[red]SLO missed[/red]: {len(failed)} objective(s) failed"
    console.print(f"{verdict} ({rule})", highlight=False)
