"""python -m loadtest: load runs with an SLO gate, the capacity planner, the trade-off and size studies, the demo.

Locust (and so gevent's monkey-patching) is imported only by the commands that generate load.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from loadtest import capacity as capacity_mod

app = typer.Typer(
    help="Load tests, SLO gates, capacity planning and the optimization trade-off study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_SLO = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _patch_first() -> None:
    """Locust's gevent must monkey-patch before ssl and friends are imported (by urllib, anyio...)."""
    import locust  # noqa: F401


def _pin(cpus: str | None) -> None:
    """Pins this process (the load generator) to the given cores, e.g. '1'."""
    if cpus:
        try:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
        except (ValueError, OSError) as exc:
            _fail(f"--cpus {cpus!r}: {exc}")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Target root URL, e.g. http://127.0.0.1:8000")],
    profile: Annotated[str, typer.Option(help="digits, minilm or mixed")] = "digits",
    users: Annotated[int, typer.Option(min=1, max=1000, help="Peak concurrent users")] = 4,
    duration: Annotated[float, typer.Option(min=1, max=3600, help="Seconds of load (the run is bounded by it)")] = 30,
    shape: Annotated[str, typer.Option(help="constant, step, ramp, spike or soak")] = "constant",
    out: Annotated[Path, typer.Option(help="Results folder")] = Path("results/loadtest"),
    model: Annotated[str | None, typer.Option(help="Model name (default: the profile's)")] = None,
    model_version: Annotated[str | None, typer.Option(help="Model version (default: the server's)")] = None,
    rows: Annotated[int, typer.Option(min=1, max=256, help="Rows (images or texts) per request")] = 1,
    text_length: Annotated[str, typer.Option(help="minilm texts: short, medium, long, N or MIN-MAX words")] = "short",
    v2_weight: Annotated[int, typer.Option(min=0, help="Weight of v2 infer requests")] = 3,
    v1_weight: Annotated[int, typer.Option(min=0, help="Weight of v1 predict requests")] = 1,
    think_time: Annotated[float, typer.Option(min=0, help="Seconds each user waits between requests")] = 0.0,
    warmup: Annotated[float, typer.Option(min=0, max=300, help="Seconds of load before measuring (discarded)")] = 0.0,
    replicas: Annotated[Path | None, typer.Option(help="CSV time,replicas to chart replicas over time")] = None,
    slo: Annotated[Path | None, typer.Option(help="SLO file (default: the packaged slo.yaml)")] = None,
    no_slo: Annotated[bool, typer.Option("--no-slo", help="Do not gate on an SLO")] = False,
    trials: Annotated[int, typer.Option(min=1, max=9, help="Repeat the run; judge the median of each metric")] = 1,
    cpus: Annotated[str | None, typer.Option(help="Pin the load generator to these cores, e.g. 1")] = None,
) -> None:
    """Run a bounded headless Locust load, write the results folder and gate on the SLO."""
    _patch_first()
    from loadtest import preflight, report, runner
    from loadtest import slo as slo_mod

    _pin(cpus)
    try:
        objectives = None if no_slo else slo_mod.Slo.load(slo)
    except (OSError, ValueError) as exc:
        _fail(f"SLO file: {exc}")
    summaries = []
    for trial in range(1, trials + 1):
        trial_out = out / f"trial-{trial}" if trials > 1 else out
        cfg = runner.RunConfig(
            host=host,
            out=trial_out,
            profile=profile,
            users=users,
            duration=duration,
            shape=shape,
            model=model,
            version=model_version,
            rows=rows,
            text_length=text_length,
            v2_weight=v2_weight,
            v1_weight=v1_weight,
            think_time=think_time,
            warmup=warmup,
            replicas_csv=replicas,
            meta={"trial": trial},
        )
        try:
            summaries.append(runner.run(cfg))
        except (preflight.TargetError, ValueError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        report.print_summary(summaries[-1])
        if not summaries[-1]["total"]["requests"]:
            _fail("no request completed during the run", EXIT_SLO)
    if objectives is None:
        return
    measured = slo_mod.median_metrics(summaries)
    rule = "single run" if trials == 1 else f"median of {trials} trials per metric"
    checks = slo_mod.evaluate(objectives, measured)
    report.print_checks(checks, rule)
    verdict = {
        "rule": rule,
        "measured": measured,
        "passed": all(c.passed for c in checks),
        "checks": [c.__dict__ for c in checks],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "slo.json").write_text(json.dumps(verdict, indent=2) + "\n")
    if not verdict["passed"]:
        raise typer.Exit(EXIT_SLO)


@app.command()
def capacity(
    per_replica_rps: Annotated[float, typer.Option(help="Throughput one replica sustains within the SLO")],
    target_rps: Annotated[float, typer.Option(help="Load to serve")],
    headroom: Annotated[float, typer.Option(help="Share of each replica's SLO capacity kept free, 0..1")] = 0.3,
    cpu_at_slo: Annotated[float, typer.Option(help="CPU use (% of request) of a replica at per-replica-rps")] = 100.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Replicas needed for a target load, and the HPA target utilization that matches them."""
    try:
        p = capacity_mod.plan(per_replica_rps, target_rps, headroom, cpu_at_slo)
    except ValueError as exc:
        _fail(str(exc))
    if json_out:
        typer.echo(json.dumps(p.as_dict(), indent=2))
        return
    typer.echo(
        f"replicas needed:          {p.replicas}  (ceil({target_rps:g} / ({per_replica_rps:g} x (1 - {headroom:g}))))"
    )
    typer.echo(f"HPA target utilization:   {p.hpa_target_utilization}%  ({cpu_at_slo:g}% at SLO x (1 - {headroom:g}))")
    typer.echo(
        f"load per replica:         {p.load_per_replica_rps:.1f} rps  (expected utilization {p.expected_utilization:.0f}%)"
    )


@app.command()
def demo(
    model_repository: Annotated[Path, typer.Option(help="Model repository built by `make models`")] = Path("models"),
    out: Annotated[Path, typer.Option(help="Results folder")] = Path("results/demo"),
    users: Annotated[int, typer.Option(min=2, max=64, help="Concurrent users, split between digits and minilm")] = 6,
    duration: Annotated[float, typer.Option(min=5, max=120, help="Seconds of load")] = 20,
) -> None:
    """Start a local model server, load digits and minilm, print a table, stop the server."""
    _patch_first()
    from loadtest import demo as demo_mod

    raise typer.Exit(demo_mod.main(model_repository, out, users, duration))


@app.command()
def tradeoffs(
    model_repository: Annotated[Path, typer.Option(help="Model repository built by `make models`")] = Path("models"),
    out: Annotated[Path, typer.Option(help="Results folder")] = Path("results/tradeoffs"),
    quick: Annotated[bool, typer.Option("--quick", help="A ~2 minute subset for CI")] = False,
    duration: Annotated[float | None, typer.Option(min=2, max=300, help="Seconds of load per configuration")] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated configuration ids to run")] = None,
    repeats: Annotated[int, typer.Option(min=1, max=9, help="Interleaved repeats; the table shows medians")] = 1,
    usd_per_vcpu_hour: Annotated[float, typer.Option(help="Price of one vCPU for one hour, in dollars")] = 0.04,
    target_rps: Annotated[float, typer.Option(help="Load the cost estimate is for")] = 1000.0,
    headroom: Annotated[float, typer.Option(help="Capacity headroom for the cost estimate")] = 0.3,
    slo: Annotated[Path | None, typer.Option(help="SLO file (default: the packaged slo.yaml)")] = None,
) -> None:
    """Measure the optimization matrix; write table (CSV, Markdown) and Pareto chart."""
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
            )
        )
    except ValueError as exc:
        _fail(str(exc))


@app.command("size-study")
def size_study(
    out: Annotated[Path, typer.Option(help="Results folder")] = Path("results/size-study"),
    quick: Annotated[bool, typer.Option("--quick", help="Widths 32 and 128 only: seconds, for CI")] = False,
) -> None:
    """Model size (hidden width) and magnitude pruning: accuracy, file and gzip size, batch-1 latency."""
    from loadtest.studies import size_study as size_study_mod

    size_study_mod.run(out, quick)


if __name__ == "__main__":
    sys.exit(app())
