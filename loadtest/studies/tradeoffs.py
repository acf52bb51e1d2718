"""The optimization study: one server configuration at a time, same load, one table and a chart.

Each configuration starts its own `python -m model_server` (only the model it needs) pinned to one
usable core, while this process, the load generator, is pinned to another: neither steals the
other's CPU. Two-thread configurations get two cores and share one with the generator (noted in
the table).

Open loop: every configuration of a model family gets the same fixed arrival rate (evenly spaced,
each user at a random phase: loadtest.locustfile), so latency is what that rate costs the model, not users ÷
throughput as in a closed loop without think time. A configuration that cannot keep the rate up
misses the SLO. Next to client latency the table shows what the server says in /metrics:
queue wait, onnxruntime time per batch, rows per batch and CPU time per request.

Configurations are compared on what stays put on a shared machine. Client p95 on a busy 2-core
machine moves by tens of percent between runs, so latency only decides the SLO verdict (limits far
above the measured values). The server's CPU time per request, counted over every request of the
run and taken as the median of interleaved repeats, moves by a few percent; it sets the cost.

Cost: CPU is priced by the second. A request that takes c CPU seconds costs c / 3600 vCPU-hours;
with the headroom kept free, a million of them cost c x 10^6 / 3600 x price / (1 - headroom)
dollars, so two configurations that use different CPU have different costs (a replica count rounded
up would give most of them the same one). The replica count for --target-rps stays in the table as
a sizing figure. Only configurations that met the SLO get a cost. Dominated (Pareto column):
another configuration of the same family is no worse on cost and quality and better on one, where
cost differences within the noise margin (the larger of the stated margin and either row's CPU
spread over its repeats) are ties and quality (from the model card) is compared exactly.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from loadtest import capacity, preflight, report
from loadtest import slo as slo_mod
from loadtest.local_server import LocalServer
from loadtest.studies import server_metrics
from loadtest.studies.pareto_chart import pareto_chart
from loadtest.summary import Summary
from loadtest.summary import write as write_summary
from loadtest.tradeoff_table import COLUMNS, NOISE_MARGIN, dominated
from model_server.cpus import pinnable_cores, pinned
from model_server.repository import RepositoryError, read_card

BASE_ARGS = [
    "--max-batch-size",
    "32",
    "--max-queue-delay-ms",
    "0",
    "--intra-op-threads",
    "1",
    "--graph-optimization",
    "all",
    "--text-padding",
    "longest",
    "--drain-seconds",
    "0",
]
# Arrival rate per model family (requests/s over all users) and users to spread it over: low enough
# that every sensible configuration keeps up on one core, high enough that a wasteful one does not.
RATES = {"digits": 100.0, "minilm": 25.0}
USERS = {"digits": 20, "minilm": 10}  # each paced user sends every 200 ms (digits) or 400 ms (minilm)
KEEP_UP = 0.95  # a configuration that served less than 95% of the offered rate missed it
DEFAULT_REPEATS = 3  # interleaved repeats: medians, and a measured CPU spread per configuration
SERVER_FIGURES = ("queue_ms", "inference_ms", "batch_rows", "cpu_ms_per_request")  # from /metrics, per run


@dataclass(frozen=True)
class Config:
    id: str
    description: str
    model: str
    version: str
    profile: str
    overrides: dict[str, str] = field(default_factory=dict)
    text_length: str = "short"

    @property
    def rate(self) -> float:
        return RATES[self.profile]

    @property
    def users(self) -> int:
        return USERS[self.profile]

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
# Hyperparameter sweeps (`make sweep SWEEP=NAME`, or a name in --only): one serving knob varied around
# minilm-longest (max batch 32, no queue delay, 1 thread), everything else equal. The extra points run only here.
SWEEP_ONLY = [
    _m("minilm-batch4", "minilm, max batch 4", max_batch_size="4"),
    _m("minilm-batch8", "minilm, max batch 8", max_batch_size="8"),
    _m("minilm-delay2", "minilm, max batch 32, 2 ms queue delay", max_queue_delay_ms="2"),
    _m("minilm-delay10", "minilm, max batch 32, 10 ms queue delay", max_queue_delay_ms="10"),
]
SWEEPS = {
    "batching": [
        "minilm-nobatch",
        "minilm-batch4",
        "minilm-batch8",
        "minilm-longest",
        "minilm-delay2",
        "minilm-delay10",
    ],
    "threads": ["minilm-longest", "minilm-2threads", "large-int8", "large-int8-2threads"],
    "graph": ["minilm-graph-disable", "minilm-graph-basic", "minilm-graph-extended", "minilm-longest"],
}
DEFAULT_DURATION_S, QUICK_DURATION_S = 15.0, 6.0
WARMUP_S = 2.0


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


def usd_per_million(cpu_ms_per_request: float, usd_per_vcpu_hour: float, headroom: float) -> float:
    """Dollars per million requests for the CPU they use, with `headroom` of every vCPU kept free."""
    vcpu_hours = cpu_ms_per_request / 1000 * 1e6 / 3600
    return vcpu_hours * usd_per_vcpu_hour / (1 - headroom)


@dataclass(frozen=True)
class Cores:
    """Where the server of a configuration and the load generator run; None: not pinned."""

    server: str | None
    both: str | None
    generator: int | None

    @classmethod
    def plan(cls) -> Cores:
        cores = pinnable_cores()
        if not cores or len(cores) < 2:
            return cls(None, None, None)
        return cls(str(cores[0]), f"{cores[0]},{cores[1]}", cores[1])

    def note(self) -> str:
        if self.generator is None:
            why = "this platform cannot pin" if pinnable_cores() is None else "fewer than 2 usable cores"
            return f"Not pinned ({why}): generator and server share the CPU."
        return (
            f"Server pinned to core {self.server}, load generator to core {self.generator} "
            f"(2-thread configurations use cores {self.both}, shared with the generator)."
        )


def measure(cfg: Config, repo: Path, out: Path, duration: float, cores: Cores) -> Summary:
    """One run of one configuration on a fresh server: the client summary, with the server's own
    figures (scraped from /metrics before and after the load) under "server"."""
    from loadtest import runner  # imports Locust, which monkey-patches the process: only when measuring

    server = LocalServer(
        repo, cfg.server_args(), cpus=cores.both if cfg.vcpus == 2 else cores.server, log_path=out / "server.log"
    )
    with server:
        before = server_metrics.scrape(server.url)
        result = runner.run(
            runner.RunConfig(
                host=server.url,
                out=out,
                profile=cfg.profile,
                users=cfg.users,
                rate=cfg.rate,
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
        figures = server_metrics.between(before, server_metrics.scrape(server.url), cfg.model, cfg.version)
    result["server"] = figures.__dict__
    write_summary(out / "summary.json", result)  # with the server's figures
    return result


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def row_for(
    cfg: Config,
    repo: Path,
    summaries: list[Summary],
    objectives: slo_mod.Slo,
    price: float,
    target_rps: float,
    headroom: float,
    noise_margin: float = NOISE_MARGIN,
) -> dict:
    """A table row from the median of the repeats (for an even count, the mean of the middle two)."""
    c = card(repo, cfg.model, cfg.version)
    metric, quality = quality_of(c)
    answered = [s for s in summaries if s["total"]["requests"]]
    m = slo_mod.median_metrics(answered) if answered else {}
    checks = slo_mod.evaluate(objectives, m) if m else []
    failed = [ch.objective for ch in checks if not ch.passed]
    rps = m.get("rps", 0.0)
    if rps < KEEP_UP * cfg.rate:
        failed.append(f"rate ({rps:.1f} of {cfg.rate:g} rps)")
    met = bool(checks) and not failed
    server = {k: _median([s["server"][k] for s in summaries]) for k in SERVER_FIGURES}
    cpus = [s["server"]["cpu_ms_per_request"] for s in summaries if not math.isnan(s["server"]["cpu_ms_per_request"])]
    # How far the repeats of this configuration disagree (0 with one run: unknown, the stated margin applies).
    spread = (max(cpus) - min(cpus)) / statistics.median(cpus) if len(cpus) > 1 and min(cpus) > 0 else 0.0
    cpu_s = server["cpu_ms_per_request"] / 1000
    per_replica = cfg.vcpus / cpu_s if cpu_s > 0 else math.nan  # requests/s one replica serves at full CPU
    costed = met and not math.isnan(per_replica)
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
        "offered_rps": cfg.rate,
        "rps": round(rps, 1),
        "p50_ms": round(m.get("p50", math.nan), 2),
        "p95_ms": round(m.get("p95", math.nan), 2),
        "p99_ms": round(m.get("p99", math.nan), 2),
        "error_rate": round(m.get("error_rate", 1.0), 4),
        "server_queue_ms": round(server["queue_ms"], 3),
        "server_inference_ms": round(server["inference_ms"], 3),
        "batch_rows": round(server["batch_rows"], 2),
        "cpu_ms_per_request": round(server["cpu_ms_per_request"], 3),
        "cpu_spread": round(spread, 3),
        "slo": "met" if met else "missed: " + ", ".join(failed or ["no requests"]),
        "replicas": capacity.plan(per_replica, target_rps, headroom).replicas if costed else "",
        "usd_per_million": round(usd_per_million(server["cpu_ms_per_request"], price, headroom), 5) if costed else "",
        "noise_margin": noise_margin,
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
    noise_margin: float = NOISE_MARGIN,
) -> int:
    if not repo.is_dir():
        raise ValueError(f"no model repository at {repo}; run `make models` first")
    by_id = {c.id: c for c in [*MATRIX, *SWEEP_ONLY]}
    ids = [cid for name in only for cid in SWEEPS.get(name, [name])] if only else None
    ids = ids or (QUICK if quick else [c.id for c in MATRIX])
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        known = f"{', '.join(by_id)}; sweeps: {', '.join(SWEEPS)}"
        raise ValueError(f"unknown configuration(s) {', '.join(unknown)}; known: {known}")
    duration = duration or (QUICK_DURATION_S if quick else DEFAULT_DURATION_S)
    if not 0 <= noise_margin < 1:
        raise ValueError(f"--noise-margin must be in [0, 1), e.g. 0.1 for 10%, got {noise_margin:g}")
    capacity.plan(1, target_rps, headroom)  # validates target and headroom before any run
    cores = Cores.plan()
    out.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, list[Summary]] = {cid: [] for cid in ids}
    started = time.monotonic()
    # Rounds go over the whole matrix, so a burst of background load hits one repeat of many
    # configurations rather than every repeat of one.
    with pinned(cores.generator) if cores.generator is not None else nullcontext(False):
        for k in range(1, repeats + 1):
            for n, cid in enumerate(ids, 1):
                cfg = by_id[cid]
                report.console.print(
                    f"[{n}/{len(ids)}{f' round {k}/{repeats}' if repeats > 1 else ''}] {cid}: "
                    f"{cfg.description} at {cfg.rate:g} requests/s ({time.monotonic() - started:.0f} s elapsed)",
                    highlight=False,
                )
                try:
                    result = measure(cfg, repo, out / cid / (f"run-{k}" if repeats > 1 else ""), duration, cores)
                except preflight.TargetError as exc:
                    report.console.print(f"[red]error:[/red] {cid}: {exc}")
                    return 2
                summaries[cid].append(result)
                lat, srv = result["total"].get("latency_ms", {}), result["server"]
                report.console.print(
                    f"    p50 {lat.get('p50', math.nan):.2f} ms  p95 {lat.get('p95', math.nan):.2f} ms  "
                    f"{result['total']['ok_rps']:.1f} rps  errors {result['total']['error_rate']:.2%}  "
                    f"server: inference {srv['inference_ms']:.2f} ms/batch, cpu {srv['cpu_ms_per_request']:.2f} ms/req",
                    highlight=False,
                )
    rows = [
        row_for(by_id[cid], repo, summaries[cid], slo, usd_per_vcpu_hour, target_rps, headroom, noise_margin)
        for cid in ids
    ]
    losers = dominated(rows, noise_margin)
    for r in rows:
        r["pareto"] = "dominated" if r["config"] in losers else "yes"
    rates = ", ".join(f"{family} {rate:g} requests/s over {USERS[family]} users" for family, rate in RATES.items())
    notes = [
        f"Open loop: a fixed arrival rate per model family ({rates}, each user evenly paced at a random phase), "
        f"{duration:g} s per configuration after {WARMUP_S:g} s of discarded warm-up, "
        "v2 infer, one row per request; minilm texts 'short' (5-15 words). "
        f"A configuration that served less than {KEEP_UP:.0%} of the offered rate missed the SLO.",
        cores.note(),
        "Latency: exact nearest-rank percentiles over successful requests (failures count in error_rate). "
        "rps: successful requests per second."
        + (
            f" Each figure is the median of {repeats} interleaved repeats"
            + (" (the mean of the middle two: the count is even)." if repeats % 2 == 0 else ".")
            if repeats > 1
            else ""
        ),
        "Server side, from /metrics over the run: server_queue_ms = mean wait for a batch per request, "
        "server_inference_ms = mean onnxruntime time per batch, batch_rows = mean rows per batch, "
        "cpu_ms_per_request = CPU time of the server process (all threads) per request, over every request "
        "of the run; cpu_spread = (max - min) / median of it over the repeats (0: one run).",
        f"Cost: CPU priced by the second at ${usd_per_vcpu_hour:g} per vCPU-hour with {headroom:.0%} headroom: "
        "usd_per_million = cpu_ms_per_request / 1000 x 10^6 / 3600 x price / (1 - headroom); "
        f"replicas = what a {target_rps:g} rps target needs (capacity planner, vCPUs / CPU seconds per request "
        "per replica); only for configurations that met the SLO.",
        f"Pareto: dominated = another configuration of the same model family is no worse on cost and quality "
        f"and better on one; cost differences within the noise margin of {noise_margin:.0%} (or a row's larger "
        "cpu_spread) are ties. p95 on a shared machine moves more than that between runs: it decides the SLO "
        "verdict, not the front.",
    ]
    write_table(rows, out, notes)
    pareto_chart(rows, out / "pareto.png", p95_limit=slo.latency_ms.get("p95"))
    table = Table(title=f"trade-offs ({time.monotonic() - started:.0f} s, noise margin {noise_margin:.0%})")
    shown = {
        "config": "config",
        "quality": "quality",
        "size_mb": "MB",
        "rps": "rps",
        "p50_ms": "p50 ms",
        "p95_ms": "p95 ms",
        "server_inference_ms": "infer ms/batch",
        "cpu_ms_per_request": "cpu ms/req",
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
