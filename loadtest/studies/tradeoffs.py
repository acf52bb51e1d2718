"""The optimization study: one server configuration at a time, same load, one table and a chart.

Each configuration starts its own `python -m model_server` (only the model it needs) pinned to
core 0, while this process, the load generator, is pinned to core 1: neither steals the other's
CPU. Two-thread configurations get both cores and share core 1 with the generator (noted in the
table). Every configuration gets the same closed-loop load (fixed users, no think time), and the
table compares figures measured in this one run.

Cost: a configuration's throughput at that load counts as its per-replica capacity at the SLO
when the run met the SLO; replicas for --target-rps follow loadtest.capacity; a configuration
that missed the SLO gets no cost (it cannot serve the target within the SLO at this load).
"""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.table import Table

from loadtest import capacity, preflight, report
from loadtest import slo as slo_mod
from loadtest.local_server import LocalServer
from model_server.repository import RepositoryError, read_card

BASE_ARGS = [
    "--max-batch-size",
    "32",
    "--intra-op-threads",
    "1",
    "--graph-optimization",
    "all",
    "--text-padding",
    "longest",
    "--drain-seconds",
    "0",
]
SERVER_CPUS, GENERATOR_CPUS, BOTH_CPUS = "0", "1", "0,1"


@dataclass(frozen=True)
class Config:
    id: str
    description: str
    model: str
    version: str
    profile: str
    overrides: dict[str, str] = field(default_factory=dict)
    users: int = 8
    text_length: str = "short"

    @property
    def vcpus(self) -> int:
        return 2 if self.overrides.get("--intra-op-threads") == "2" else 1

    def server_args(self) -> list[str]:
        args = BASE_ARGS[:]
        for flag, value in self.overrides.items():
            args[args.index(flag) + 1] = value
        return [*args, "--models", self.model]


def _d(id, desc, model, version, **over):
    return Config(id, desc, model, version, "digits", {f"--{k.replace('_', '-')}": v for k, v in over.items()})


def _m(id, desc, **over):
    return Config(id, desc, "minilm", "1", "minilm", {f"--{k.replace('_', '-')}": v for k, v in over.items()})


MATRIX = [
    _d("digits-fp32", "digits small, fp32", "digits", "1"),
    _d("digits-int8", "digits small, int8", "digits", "2"),
    _d("large-fp32", "digits large (2048x3), fp32", "digits-large", "1"),
    _d("large-int8", "digits large, int8", "digits-large", "2"),
    _d("large-int8-nobatch", "digits large, int8, batching off", "digits-large", "2", max_batch_size="1"),
    _d("large-int8-2threads", "digits large, int8, 2 intra-op threads", "digits-large", "2", intra_op_threads="2"),
    _d(
        "large-fp32-graph-disable",
        "digits large, fp32, graph opt disabled",
        "digits-large",
        "1",
        graph_optimization="disable",
    ),
    _m("minilm-longest", "minilm, pad to longest text"),
    _m("minilm-max128", "minilm, pad every text to 128 tokens", text_padding="max"),
    _m("minilm-nobatch", "minilm, batching off", max_batch_size="1"),
    _m("minilm-2threads", "minilm, 2 intra-op threads", intra_op_threads="2"),
    _m("minilm-graph-disable", "minilm, graph opt disabled", graph_optimization="disable"),
    _m("minilm-graph-basic", "minilm, graph opt basic", graph_optimization="basic"),
    _m("minilm-graph-extended", "minilm, graph opt extended", graph_optimization="extended"),
]
QUICK = ["digits-fp32", "digits-int8", "large-fp32", "large-int8", "minilm-longest", "minilm-max128"]
DEFAULT_DURATION_S, QUICK_DURATION_S = 15.0, 6.0
WARMUP_S = 2.0

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
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "rps",
    "error_rate",
    "slo",
    "replicas",
    "usd_per_million",
    "pareto",
]


def card(repo: Path, model: str, version: str) -> dict:
    try:
        return read_card(repo / model / version).raw
    except RepositoryError as exc:
        raise ValueError(str(exc)) from None


def quality_of(c: dict) -> tuple[str, float]:
    metrics = c.get("metrics", {})
    for key in ("accuracy", "paraphrase_cosine_margin"):
        if key in metrics:
            return key, float(metrics[key])
    raise ValueError(f"card of {c.get('name')} has no accuracy or paraphrase_cosine_margin")


def dominated(rows: list[dict]) -> set[str]:
    """Configs beaten by another of the same task: no worse on p95, quality and cost, better on one."""

    def key(r):
        cost = r["usd_per_million"] if r["usd_per_million"] != "" else math.inf
        return r["p95_ms"], -r["quality"], cost

    out = set()
    for r in rows:
        for o in rows:
            if o is r or o["quality_metric"] != r["quality_metric"]:
                continue
            a, b = key(o), key(r)
            if all(x <= y for x, y in zip(a, b)) and a != b:
                out.add(r["config"])
                break
    return out


def measure(cfg: Config, repo: Path, out: Path, duration: float, pin: bool) -> dict:
    """One run of one configuration on a fresh server; returns its summary."""
    from loadtest import runner  # imports Locust, which monkey-patches the process: only when measuring

    server = LocalServer(
        repo,
        cfg.server_args(),
        cpus=(BOTH_CPUS if cfg.vcpus == 2 else SERVER_CPUS) if pin else None,
        log_path=out / "server.log",
    )
    with server:
        return runner.run(
            runner.RunConfig(
                host=server.url,
                out=out,
                profile=cfg.profile,
                users=cfg.users,
                duration=duration,
                model=cfg.model,
                version=cfg.version,
                text_length=cfg.text_length,
                v1_weight=0,
                v2_weight=1,
                warmup=WARMUP_S,
                progress=False,
                meta={"config": cfg.id, "server_args": cfg.server_args()},
            )
        )


def row_for(
    cfg: Config,
    repo: Path,
    summaries: list[dict],
    objectives: slo_mod.Slo,
    price: float,
    target_rps: float,
    headroom: float,
) -> dict:
    """A table row from the median of the repeats (the same rule as the SLO gate's --trials)."""
    c = card(repo, cfg.model, cfg.version)
    metric, quality = quality_of(c)
    answered = [s for s in summaries if s["total"]["requests"]]
    m = slo_mod.median_metrics(answered) if answered else {}
    checks = slo_mod.evaluate(objectives, m) if m else []
    failed = [ch.objective for ch in checks if not ch.passed]
    met = bool(checks) and not failed
    rps = m.get("rps", 0.0)
    return {
        "config": cfg.id,
        "description": cfg.description,
        "model": cfg.model,
        "version": cfg.version,
        "precision": c.get("precision", ""),
        "quality_metric": metric,
        "quality": quality,
        "size_mb": round(c.get("size_bytes", 0) / 1e6, 2),
        "vcpus": cfg.vcpus,
        "p50_ms": round(m.get("p50", math.nan), 2),
        "p95_ms": round(m.get("p95", math.nan), 2),
        "p99_ms": round(m.get("p99", math.nan), 2),
        "rps": round(rps, 1),
        "error_rate": round(m.get("error_rate", 1.0), 4),
        "slo": "met" if met else "missed: " + ", ".join(failed or ["no requests"]),
        "replicas": capacity.plan(rps, target_rps, headroom).replicas if met else "",
        "usd_per_million": round(capacity.cost_per_million(rps, cfg.vcpus, price, target_rps, headroom), 4)
        if met
        else "",
        "pareto": "",
    }


def write_table(rows: list[dict], out: Path, notes: list[str]) -> None:
    with (out / "tradeoffs.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    (out / "tradeoffs.md").write_text(
        "# Optimization trade-offs\n\n" + "\n".join(f"- {n}" for n in notes) + "\n\n" + "\n".join(lines) + "\n"
    )


def pareto_chart(rows: list[dict], path: Path) -> None:
    """Per model family: p95 against quality and p95 against cost. Dominated configurations are grey
    crosses; configurations that missed the SLO (no cost) sit on top of the cost panel as red triangles."""
    tasks = sorted({r["quality_metric"] for r in rows})
    fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 4.5 * len(tasks)), squeeze=False)
    for axrow, metric in zip(axes, tasks):
        group = [r for r in rows if r["quality_metric"] == metric]
        family = group[0]["model"].split("-")[0]
        costs = [r["usd_per_million"] for r in group if r["usd_per_million"] != ""]
        missed_y = max(costs, default=1.0) * 1.15
        for ax, ykey, ylabel in (
            (axrow[0], "quality", metric),
            (axrow[1], "usd_per_million", "$ per million requests"),
        ):
            for r in group:
                front = r["pareto"] == "yes"
                y, style = r[ykey], ("o", "tab:blue") if front else ("x", "tab:gray")
                if y == "":
                    y, style = missed_y, ("^", "tab:red")
                ax.scatter(r["p95_ms"], y, marker=style[0], s=60, color=style[1], zorder=3)
                ax.annotate(
                    r["config"] + (" (missed SLO)" if style[0] == "^" else ""),
                    (r["p95_ms"], y),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                    color="black" if front else "gray",
                )
            ax.set(xlabel="p95 latency (ms, exact)", ylabel=ylabel, title=f"{family}: p95 vs {ylabel}")
            ax.grid(alpha=0.3)
        axrow[0].scatter([], [], marker="o", color="tab:blue", label="Pareto-optimal")
        axrow[0].scatter([], [], marker="x", color="tab:gray", label="dominated (p95, quality, cost)")
        axrow[1].scatter([], [], marker="^", color="tab:red", label="missed the SLO: no cost")
        for ax in axrow:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(
    repo: Path,
    out: Path,
    *,
    quick: bool,
    duration: float | None,
    only: list[str] | None,
    repeats: int,
    usd_per_vcpu_hour: float,
    target_rps: float,
    headroom: float,
    slo: slo_mod.Slo,
) -> int:
    if not repo.is_dir():
        raise ValueError(f"no model repository at {repo}; run `make models` first")
    by_id = {c.id: c for c in MATRIX}
    ids = only or (QUICK if quick else list(by_id))
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ValueError(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(by_id)}")
    duration = duration or (QUICK_DURATION_S if quick else DEFAULT_DURATION_S)
    capacity.plan(1, target_rps, headroom)  # validates target and headroom before any run
    pin = len(os.sched_getaffinity(0)) >= 2
    if pin:
        os.sched_setaffinity(0, {int(GENERATOR_CPUS)})
    out.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, list[dict]] = {cid: [] for cid in ids}
    started = time.monotonic()
    # Rounds go over the whole matrix, so a burst of background load hits one repeat of many
    # configurations rather than every repeat of one.
    for k in range(1, repeats + 1):
        for n, cid in enumerate(ids, 1):
            cfg = by_id[cid]
            report.console.print(
                f"[{n}/{len(ids)}{f' round {k}/{repeats}' if repeats > 1 else ''}] {cid}: "
                f"{cfg.description} ({time.monotonic() - started:.0f} s elapsed)",
                highlight=False,
            )
            try:
                result = measure(cfg, repo, out / cid / (f"run-{k}" if repeats > 1 else ""), duration, pin)
            except preflight.TargetError as exc:
                report.console.print(f"[red]error:[/red] {cid}: {exc}")
                return 2
            summaries[cid].append(result)
            lat = result["total"].get("latency_ms", {})
            report.console.print(
                f"    p50 {lat.get('p50', math.nan):.2f} ms  p95 {lat.get('p95', math.nan):.2f} ms  "
                f"p99 {lat.get('p99', math.nan):.2f} ms  {result['total']['ok_rps']:.1f} rps  "
                f"errors {result['total']['error_rate']:.2%}",
                highlight=False,
            )
    rows = [row_for(by_id[cid], repo, summaries[cid], slo, usd_per_vcpu_hour, target_rps, headroom) for cid in ids]
    losers = dominated(rows)
    for r in rows:
        r["pareto"] = "dominated" if r["config"] in losers else "yes"
    notes = [
        f"Same closed-loop load for every configuration: {MATRIX[0].users} users, no think time, {duration:g} s each "
        f"after {WARMUP_S:g} s of discarded warm-up, "
        "v2 infer, one row per request; minilm texts 'short' (5-15 words).",
        "Server pinned to core 0, load generator to core 1 (2-thread configurations use cores 0-1, shared with the generator)."
        if pin
        else "Not pinned: fewer than 2 cores available, so generator and server share the CPU.",
        "Latency: exact nearest-rank percentiles over every request. rps: successful requests per second."
        + (f" Each figure is the median of {repeats} interleaved repeats." if repeats > 1 else ""),
        f"Cost: ${usd_per_vcpu_hour:g} per vCPU-hour, {target_rps:g} rps target, {headroom:.0%} headroom, "
        "replicas = ceil(target / (rps x (1 - headroom))); only for configurations that met the SLO.",
        "Pareto: dominated = another configuration of the same model family is no worse on p95, quality and cost.",
    ]
    write_table(rows, out, notes)
    pareto_chart(rows, out / "pareto.png")
    table = Table(title=f"trade-offs ({time.monotonic() - started:.0f} s)")
    shown = {
        "config": "config",
        "quality": "quality",
        "size_mb": "MB",
        "p50_ms": "p50 ms",
        "p95_ms": "p95 ms",
        "p99_ms": "p99 ms",
        "rps": "rps",
        "usd_per_million": "$/M req",
        "pareto": "pareto",
        "slo": "SLO",
    }
    for header in shown.values():
        table.add_column(header, no_wrap=header != "SLO")
    for r in rows:
        table.add_row(*(str(r[c]) for c in shown))
    report.console.print(table)
    report.console.print(f"wrote {out / 'tradeoffs.csv'}, {out / 'tradeoffs.md'}, {out / 'pareto.png'}")
    return 0
