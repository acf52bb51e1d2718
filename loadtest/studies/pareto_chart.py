"""pareto.png of the trade-off study: per model family, cost against quality and p95 against server CPU."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure


def pareto_chart(rows: list[dict], path: Path, p95_limit: float | None = None) -> None:
    fig = pareto_figure(rows, p95_limit)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def pareto_figure(rows: list[dict], p95_limit: float | None = None) -> Figure:
    """Per model family: cost against quality (the plane the Pareto front lives in) and p95 against server CPU
    per request. Each configuration has its own colour, named in the legend (no labels on points, so close
    points never hide each other's names); front: filled circle, dominated: cross. A configuration that missed
    the SLO has no cost: it is listed in the cost panel's corner, not drawn at a cost it does not have."""
    tasks = sorted({r["quality_metric"] for r in rows})
    # A Figure of its own, not pyplot's: no global backend switch, nothing to close.
    fig = Figure(figsize=(13, 4.8 * len(tasks)))
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    tab10 = matplotlib.colormaps["tab10"]
    colours = [tab10(i) for i in range(10) if i != 3]  # no red: red marks a missed SLO
    for axrow, metric in zip(axes, tasks, strict=True):
        group = [r for r in rows if r["quality_metric"] == metric]
        family = group[0]["model"].split("-")[0]
        plane, latency = axrow
        for i, r in enumerate(group):
            front = r["pareto"] == "yes"
            style = {"color": colours[i % len(colours)], "s": 70, "zorder": 3, "marker": "o" if front else "x"}
            tag = "front" if front else "dominated"
            if r["usd_per_million"] != "":
                plane.scatter(r["usd_per_million"], r["quality"], **style)
            else:
                tag = "missed SLO"
                style.update(marker="^", edgecolors="tab:red", linewidths=1.5)
            latency.scatter(r["p95_ms"], r["cpu_ms_per_request"], label=f"{r['config']} ({tag})", **style)
        title = f"{family}: cost vs {metric}"
        qualities = {r["quality"] for r in group}
        if len(qualities) == 1:
            # One model in every configuration: quality cannot separate them, cost alone decides the front.
            (q,) = qualities
            plane.set_ylim(q - 0.01, q + 0.01)
            title += f"\nevery configuration serves the same model: quality {q:g} for all"
        else:
            plane.margins(y=0.15)
        missed = [r["config"] for r in group if r["usd_per_million"] == ""]
        if missed:  # in the title, not at a place on the cost axis
            title += "\nmissed the SLO, so no cost: " + ", ".join(missed)
        plane.set(xlabel="$ per million requests (server CPU, priced by the second)", ylabel=metric, title=title)
        costs = [r["usd_per_million"] for r in group if r["usd_per_million"] != ""]
        plane.set_xlim(0, max(costs, default=1.0) * 1.15)
        if p95_limit is not None:
            latency.set_xlim(0, max([p95_limit, *(r["p95_ms"] for r in group)]) * 1.12)
            latency.axvline(p95_limit, color="tab:red", linestyle="--", linewidth=1)
            latency.text(p95_limit, 0.98, " SLO p95", transform=latency.get_xaxis_transform(), color="tab:red",
                         va="top", fontsize=8)  # fmt: skip
        rate = f"{group[0]['offered_rps']:g} requests/s"
        latency.set(
            xlabel=f"p95 latency at {rate} (ms, exact)",
            ylabel="server CPU per request (ms)",
            title=f"{family}: p95 vs server CPU per request",
        )
        latency.set_xlim(left=0)
        latency.set_ylim(0, max(r["cpu_ms_per_request"] for r in group) * 1.15)
        for ax in axrow:
            ax.grid(alpha=0.3)
        latency.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig
