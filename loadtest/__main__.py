"""python -m loadtest: load runs with an SLO gate, the capacity planner, the trade-off and size studies, the demo.

Locust (and so gevent's monkey-patching) is imported only by the commands that generate load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from loadtest import capacity as capacity_mod
from loadtest import options

app = options.typer_app(
    "Load tests, SLO gates, capacity planning and the optimization trade-off study.",
    cls=options.OneLineErrors,
    no_args_is_help=True,
)

EXIT_SLO = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _patch_first() -> None:
    """Locust's gevent must monkey-patch before ssl and friends are imported (by urllib, anyio...)."""
    import locust  # noqa: F401


def _pin(cpus: str | None) -> None:
    """Pins this process (the load generator) to the given cores, e.g. '1'."""
    if cpus:
        # Imported here: the harness's module-level imports stay free of the server package.
        from model_server.cpus import pin, pinnable_cores

        if pinnable_cores() is None:  # macOS has no CPU affinity API
            _fail(f"--cpus {cpus!r}: pinning is not available on {sys.platform}; run without --cpus")
        try:
            pin(int(c) for c in cpus.split(","))
        except (ValueError, OSError) as exc:
            _fail(f"--cpus {cpus!r}: {exc}")


@app.command()
def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Target root URL, e.g. http://127.0.0.1:8000")],
    profile: Annotated[str, typer.Option(help="digits, minilm or mixed")] = "digits",
    users: Annotated[int, typer.Option(min=1, max=1000, help="Peak concurrent users")] = 4,
    duration: Annotated[float, options.number("Seconds of load (the run is bounded by it)", 1, 3600)] = 30,
    shape: Annotated[str, typer.Option(help="constant, step, ramp, spike or soak")] = "constant",
    out: Annotated[Path, options.results_folder("Results folder")] = Path("results/loadtest"),
    model: Annotated[str | None, typer.Option(help="Model name (default: the profile's)")] = None,
    model_version: Annotated[str | None, typer.Option(help="Model version (default: the server's)")] = None,
    rows: Annotated[int, typer.Option(min=1, max=256, help="Rows (images or texts) per request")] = 1,
    text_length: Annotated[str, options.text_length("minilm texts: short, medium, long, N or MIN-MAX words")] = "short",
    v2_weight: Annotated[int, options.count("Weight of v2 infer requests", 0, 100)] = 3,
    v1_weight: Annotated[int, options.count("Weight of v1 predict requests", 0, 100)] = 1,
    think_time: Annotated[float, options.number("Seconds each user waits between requests", 0, 60)] = 0.0,
    rate: Annotated[
        float,
        options.number("Open loop: requests/s in all at peak users, each user paced (0: closed loop)", 0, 100_000),
    ] = 0.0,
    warmup: Annotated[float, options.number("Seconds of load before measuring (discarded)", 0, 300)] = 0.0,
    replicas: Annotated[Path | None, options.replica_series("CSV time,replicas to chart replicas over time")] = None,
    slo: Annotated[Path | None, options.input_file("SLO file (default: the packaged slo.yaml)")] = None,
    no_slo: Annotated[bool, typer.Option("--no-slo", help="Do not gate on an SLO")] = False,
    trials: Annotated[
        int, typer.Option(min=1, max=9, help="Repeat the run N times (N odd); judge the median trial of each metric")
    ] = 1,
    cpus: Annotated[str | None, typer.Option(help="Pin the load generator to these cores, e.g. 1")] = None,
    load: Annotated[
        Path | None,
        typer.Option(
            help="Open loop along a t,rps CSV (the hpa command's --load): the rate follows it, --users at its peak, "
            "--duration defaults to its last t"
        ),
    ] = None,
    reconnect_every: Annotated[
        int,
        typer.Option(
            min=0,
            max=1_000_000,
            help="A user opens a new connection after this many requests, so a Kubernetes Service spreads the load "
            "over pods added during the run (it balances connections); 0 keeps them open",
        ),
    ] = 0,
) -> None:
    """Run a bounded headless Locust load, write the results folder and gate on the SLO."""
    if trials % 2 == 0:
        _fail(f"--trials must be odd (1, 3, 5...), got {trials}: the gate judges the middle trial of each metric")
    profile_load = None
    if load is not None:
        profile_load, rate, shape, duration = _load_profile(ctx, load, shape, rate, warmup, duration)
    _patch_first()
    from loadtest import preflight, report, runner
    from loadtest import slo as slo_mod
    from loadtest import trials as trials_mod

    _pin(cpus)
    try:
        objectives = None if no_slo else slo_mod.Slo.load(slo)
    except ValueError as exc:
        _fail(f"SLO file {exc}")
    cfg = runner.RunConfig(
        host=host, out=out, profile=profile, users=users, duration=duration, shape=shape, model=model,
        version=model_version, rows=rows, text_length=text_length, v2_weight=v2_weight, v1_weight=v1_weight,
        think_time=think_time, rate=rate, warmup=warmup, replicas_csv=replicas, load=profile_load,
        reconnect_every=reconnect_every,
    )  # fmt: skip
    summaries = []
    try:
        for summary in trials_mod.run(cfg, trials):
            summaries.append(summary)
            report.print_summary(summary)
            if not summary["total"]["requests"]:
                _fail("no request completed during the run", EXIT_SLO)
    except (preflight.TargetError, ValueError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    checks: list[slo_mod.Check] = []
    if objectives is not None:
        rule, checks = slo_mod.judge(objectives, summaries, out)
        report.print_checks(checks, rule)
    if (failed := trials_mod.all_failed(summaries)) is not None:  # never a pass, with or without an SLO
        _fail(failed, EXIT_SLO)
    if not all(c.passed for c in checks):
        raise typer.Exit(EXIT_SLO)


def _load_profile(
    ctx: typer.Context, load: Path, shape: str, rate: float, warmup: float, duration: float
) -> tuple[list[tuple[float, float]], float, str, float]:
    """--load: the t,rps profile, and the rate, shape and duration it sets."""
    from loadtest import hpa as hpa_mod

    if shape != "constant" or rate or warmup:
        _fail("--load sets the shape and the rate: leave out --shape, --rate and --warmup")
    try:
        profile_load = hpa_mod.read_load(load)
    except hpa_mod.HpaError as exc:
        _fail(str(exc))
    source = ctx.get_parameter_source("duration")  # typer's own click: compare by name
    if source is not None and source.name == "DEFAULT":
        duration = profile_load[-1][0]
    if not 0 < duration <= 3600:
        _fail(f"--load {load}: the run must last 1 to 3600 s, the profile gives {duration:g} s")
    return profile_load, max(rps for _, rps in profile_load), f"profile {load.name}", duration


@app.command("replicas-chart")
def replicas_chart(
    results: Annotated[Path, typer.Argument(help="A `run` results folder: its first request is t=0")],
    replicas: Annotated[Path, typer.Option(help="CSV time,replicas (epoch seconds), e.g. make hpa-watch's")],
) -> None:
    """Draw RESULTS/replicas.png from a replica series that went on after the run (the HPA's scale-down)."""
    from loadtest import plots, records, summary

    try:
        first = min(r.start for r in records.read_csv(results / "timings.csv"))
        series = plots.read_series(replicas, first)
        meta = summary.read(results / "summary.json")
    except (OSError, ValueError, KeyError) as exc:
        _fail(f"replicas-chart: {exc}")
    title = f"({meta.get('profile')}, {meta.get('users')} users)"
    typer.echo(f"wrote {plots.replicas_chart(series, results, title)}")


@app.command()
def capacity(
    per_replica_rps: Annotated[float, options.number("Throughput one replica sustains within the SLO", 0.001, 1e6)],
    target_rps: Annotated[float, options.number("Load to serve (> 0)", 0.001, 1e7)],
    headroom: Annotated[
        float, options.number("Share of each replica's SLO capacity kept free, 0..0.95", 0, 0.95)
    ] = 0.3,
    cpu_at_slo: Annotated[
        float, options.number("CPU use (% of request) of a replica at per-replica-rps", 1, 1000)
    ] = 100.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Replicas for a target load, and the HPA CPU target that settles on them (checked with the HPA what-if)."""
    try:
        p = capacity_mod.plan(per_replica_rps, target_rps, headroom, cpu_at_slo)
    except ValueError as exc:
        _fail(str(exc))
    if json_out:
        typer.echo(json.dumps(p.as_dict(), indent=2))
        return
    typer.echo(
        f"replicas for the headroom: {p.replicas_for_headroom}  "
        f"(ceil({target_rps:g} / ({per_replica_rps:g} x (1 - {headroom:g}))))"
    )
    typer.echo(
        f"HPA target utilization:    {p.hpa_target_utilization}%  "
        f"(at most {cpu_at_slo:g}% at SLO x (1 - {headroom:g}), rounded up)"
    )
    settle = "the same" if p.replicas == p.replicas_for_headroom else "the nearest count the HPA stops on"
    typer.echo(f"replicas the HPA settles on at {target_rps:g} rps: {p.replicas}  ({settle})")
    typer.echo(
        f"load per replica:          {p.load_per_replica_rps:.1f} rps  "
        f"(expected utilization {p.expected_utilization:.0f}%)"
    )
    typer.echo(f"what-if: python -m loadtest hpa --hpa FILE --capacity-rps {p.capacity_rps!r} --load FILE.csv")


@app.command()
def hpa(
    hpa_file: Annotated[
        Path, options.input_file("YAML with one autoscaling/v2 HorizontalPodAutoscaler (alone or rendered)", "--hpa")
    ],
    capacity_rps: Annotated[
        float, options.number("Requests per second one replica serves at 100% of its CPU request", 0.001, 1e6)
    ],
    load: Annotated[
        Path, options.input_file("CSV with columns t,rps: seconds (a day at most), requests per second (piecewise)")
    ],
    start_replicas: Annotated[int | None, options.count("Replicas at t=0  [default: minReplicas]", 1, 10_000)] = None,
    pod_ready_s: Annotated[float, options.number("Seconds from a pod's creation to ready", 0, 3600)] = 20.0,
    sync_s: Annotated[float, options.number("Controller sync period in seconds", 1, 600)] = 15.0,
    metrics_lag_s: Annotated[
        float, options.number("Seconds from the pods' CPU use to the controller reading it (cluster: ~30)", 0, 600)
    ] = 0.0,
    json_out: Annotated[bool, typer.Option("--json", help='Print {"syncs": [...]} instead of the table')] = False,
    out: Annotated[Path | None, options.results_folder("Folder for hpa-whatif.csv, .json and .png")] = None,
) -> None:
    """HPA what-if: the replica timeline the Kubernetes HPA controller would produce for a load profile."""
    from loadtest import hpa as hpa_mod
    from loadtest.hpa import report as hpa_report

    try:
        autoscaler = hpa_mod.load_hpa(hpa_file)
        profile = hpa_mod.read_load(load)
        syncs = hpa_mod.simulate(autoscaler, profile, capacity_rps, start_replicas, pod_ready_s, sync_s, metrics_lag_s)
    except hpa_mod.HpaError as exc:
        _fail(str(exc))
    if json_out:
        typer.echo(hpa_report.as_json(syncs))
    else:
        start = autoscaler.min_replicas if start_replicas is None else start_replicas
        lines = hpa_report.describe(autoscaler, capacity_rps, pod_ready_s, sync_s, metrics_lag_s)
        lines += ["", *hpa_report.table(syncs), "", *hpa_report.decisions(syncs, start)]
        typer.echo("\n".join(lines))
    if out is not None:
        title = (
            f"HPA {autoscaler.name} what-if: {hpa_file.name}, {load.name}, {capacity_rps:g} rps per replica at 100% CPU"
        )
        for path in hpa_report.write(out, syncs, autoscaler, title):
            typer.echo(f"wrote {path}", err=json_out)


@app.command()
def demo(
    model_repository: options.ModelRepository = Path("models"),
    out: Annotated[Path, options.results_folder("Results folder")] = Path("results/demo"),
    users: Annotated[int, typer.Option(min=2, max=64, help="Concurrent users, split between digits and minilm")] = 6,
    duration: Annotated[float, options.number("Seconds of load", 5, 120)] = 20,
) -> None:
    """Start a local model server, load digits and minilm, print a table, stop the server."""
    _patch_first()
    from loadtest import demo as demo_mod

    raise typer.Exit(demo_mod.main(model_repository, out, users, duration))


@app.command()
def tradeoffs(
    model_repository: options.ModelRepository = Path("models"),
    out: Annotated[Path, options.results_folder("Results folder")] = Path("results/tradeoffs"),
    quick: Annotated[bool, typer.Option("--quick", help="A ~2 minute subset for CI")] = False,
    duration: Annotated[float | None, options.number("Seconds of load per configuration", 2, 300)] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated configuration ids to run")] = None,
    repeats: Annotated[
        int,
        typer.Option(
            min=1, max=9, help="Interleaved repeats: the table shows medians, cpu_spread their disagreement on CPU"
        ),
    ] = 3,
    usd_per_vcpu_hour: Annotated[float, options.number("Price of one vCPU for one hour, in dollars", 0, 1000)] = 0.04,
    target_rps: Annotated[float, options.number("Load the cost estimate is for", 0.001, 1e7)] = 1000.0,
    headroom: Annotated[float, options.number("Capacity headroom for the cost estimate, 0..0.95", 0, 0.95)] = 0.3,
    slo: Annotated[Path | None, options.input_file("SLO file (default: the packaged slo.yaml)")] = None,
    noise_margin: Annotated[
        float, options.number("Relative cost difference treated as a tie when marking dominated ones", 0, 1)
    ] = 0.1,
) -> None:
    """Measure the optimization matrix at a fixed arrival rate; write table (CSV, Markdown) and Pareto chart."""
    _patch_first()
    from loadtest import slo as slo_mod
    from loadtest.studies import tradeoffs as tradeoffs_mod

    try:
        objectives = slo_mod.Slo.load(slo)
        raise typer.Exit(
            tradeoffs_mod.main(
                model_repository,
                out,
                quick=quick,
                duration=duration,
                only=only.split(",") if only else None,
                repeats=repeats,
                usd_per_vcpu_hour=usd_per_vcpu_hour,
                target_rps=target_rps,
                headroom=headroom,
                slo=objectives,
                noise_margin=noise_margin,
            )
        )
    except ValueError as exc:
        _fail(str(exc))


@app.command("size-study")
def size_study(
    out: Annotated[Path, options.results_folder("Results folder")] = Path("results/size-study"),
    quick: Annotated[bool, typer.Option("--quick", help="Widths 32 and 128 only: seconds, for CI")] = False,
) -> None:
    """Model size (hidden width) and magnitude pruning: accuracy, file and gzip size, batch-1 latency."""
    from loadtest.studies import size_study as size_study_mod

    size_study_mod.run(out, quick)


@app.command()
def accuracy(
    host: Annotated[str, typer.Option(help="The server: local, Compose's load balancer or the cluster's NodePort")],
    model: Annotated[str, typer.Option(help="digits, digits-large or minilm")] = "digits",
    versions: Annotated[str, typer.Option(help="Comma-separated versions; default: every version served")] = "",
    rows: Annotated[int, typer.Option(min=1, max=64, help="Rows per request (the server's default cap is 64)")] = 50,
    model_repository: Annotated[Path, typer.Option(help="Where the model cards are (their claimed quality)")] = Path(
        "models"
    ),
    out: Annotated[Path, options.results_file("JSON results file")] = Path("results/accuracy/accuracy.json"),
) -> None:
    """Quality measured through the serving path, per version, next to the card's figure and the request time."""
    from rich.console import Console
    from rich.table import Table

    from loadtest.studies import accuracy as accuracy_mod

    if model not in ("digits", "digits-large", "minilm"):
        _fail(f"--model {model!r}: choose digits, digits-large or minilm (the held-out data this command knows)")
    cards = {card.parent.name: json.loads(card.read_text()) for card in (model_repository / model).glob("*/model.json")}
    try:
        found = accuracy_mod.measure(host, model, [v for v in versions.split(",") if v] or None, rows, cards)
    except accuracy_mod.AccuracyError as exc:
        _fail(str(exc), 1)
    table = Table(title=f"{model} through {host}: {found[0]['metric']} per version")
    for column in ("version", "precision", "measured", "card says", "median request ms", "requests"):
        table.add_column(column, justify="right")
    for r in found:
        card = "-" if r["card_value"] is None else f"{r['card_value']:.4f}"
        table.add_row(
            r["version"], str(r["precision"]), f"{r['value']:.4f}", card, f"{r['median_request_ms']:.1f}",
            str(r["requests"]),
        )  # fmt: skip
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"host": host, "model": model, "rows_per_request": rows, "versions": found}, indent=2))
    print(f"accuracy: {out}")


@app.command("bench-server")
def bench_server(
    model_repository: options.ModelRepository = Path("models"),
    out: Annotated[Path, options.results_file("JSON results file")] = Path("results/bench/server.json"),
    models: options.BenchModels = "minilm,digits",
    users: options.BenchUsers = 32,
    duration: options.BenchDuration = 15,
    warmup: options.BenchWarmup = 3,
    batch: options.BenchBatch = 32,
    repeats: options.BenchRepeats = 1,
) -> None:
    """Server vs raw onnxruntime vs a naive server, batching on/off: rows/s, p50, p99, ratios (JSON + table)."""
    _patch_first()
    from loadtest.studies import bench_server as bench_mod

    bench = bench_mod.Bench(model_repository, out, users, duration, warmup, batch, repeats)
    try:
        raise typer.Exit(bench_mod.main(bench, models.split(",")))
    except ValueError as exc:
        _fail(str(exc))


@app.command("bench-peers")
def bench_peers(
    model_repository: options.ModelRepository = Path("models"),
    out: Annotated[Path, options.results_file("JSON results file")] = Path("results/bench/peers.json"),
    models: options.BenchModels = "minilm,digits",
    peers: Annotated[str, typer.Option(help="Comma-separated peers: mlserver, pytriton")] = "mlserver,pytriton",
    venvs: Annotated[Path, typer.Option(help="Where the peers' virtualenvs are installed")] = Path(".venv-peers"),
    users: options.BenchUsers = 32,
    duration: options.BenchDuration = 20,
    warmup: options.BenchWarmup = 3,
    batch: options.BenchBatch = 32,
    repeats: options.BenchRepeats = 3,
) -> None:
    """Our server vs MLServer and Triton (PyTriton), same model and load: rows/s, p50, p99, ratios (JSON + table)."""
    _patch_first()
    from loadtest.studies import bench_peers as peers_mod
    from loadtest.studies.bench_server import Bench

    bench = Bench(model_repository, out, users, duration, warmup, batch, repeats)
    try:
        raise typer.Exit(peers_mod.main(bench, models.split(","), [p for p in peers.split(",") if p], venvs))
    except ValueError as exc:
        _fail(str(exc))


@app.command("cpu-breakdown")
def cpu_breakdown(
    model_repository: options.ModelRepository = Path("models"),
    out: Annotated[Path, options.results_file("JSON results file")] = Path("results/bench/cpu-breakdown.json"),
    models: options.BenchModels = "minilm,digits",
    variants: Annotated[
        str,
        typer.Option(
            help="Comma-separated: after (the server as it is), and the server with one change undone: "
            "fastapi-routes (inference routes on FastAPI's own handler), threaded-batches (every batch on the "
            "model's thread), unfrozen (gc.freeze() a no-op)"
        ),
    ] = "fastapi-routes,threaded-batches,after",
    users: options.BenchUsers = 32,
    duration: Annotated[int, options.count("Seconds py-spy samples each server run, after the warm-up", 1, 300)] = 15,
    warmup: options.BenchWarmup = 3,
    batch: options.BenchBatch = 32,
    repeats: options.BenchRepeats = 3,
) -> None:
    """Microseconds of CPU per request by serving stage (py-spy), the server against it with one change undone
    (JSON + table)."""
    _patch_first()
    from loadtest import preflight
    from loadtest.studies import cpu_breakdown as breakdown_mod
    from loadtest.studies.bench_server import Bench

    bench = Bench(model_repository, out, users, duration, warmup, batch, repeats)
    try:
        raise typer.Exit(breakdown_mod.main(bench, models.split(","), [v for v in variants.split(",") if v]))
    except (ValueError, preflight.TargetError) as exc:
        _fail(str(exc))


if __name__ == "__main__":
    sys.exit(app())
