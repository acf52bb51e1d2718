"""Runs headless Locust in-process and writes the results folder.

In-process (Locust as a library) because the request event listener then appends every request's
unrounded timing straight into a list: no temp files, no parsing Locust's rounded output.

Results folder:
  summary.json          per-endpoint, per-model and total RPS, exact percentiles, errors by type
  timings.csv           one row per request (the raw data every figure comes from)
  locust_stats.csv, locust_stats_history.csv, locust_failures.csv, locust_exceptions.csv, locust.html
  latency.png, throughput.png (and replicas.png when a replica series is given)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import STATE_STOPPED
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

from loadtest import plots, preflight, records, schedules, summary
from loadtest.locustfile import PROFILES
from loadtest.payloads import TextLength
from loadtest.percentiles import REPORTED, label, nearest_rank
from loadtest.shapes import ScheduleShape

# A shape ends the run at `duration`; this is the hard stop if users do not finish in time.
GRACE_S = 15.0
LIVE_WINDOW_S = 5.0  # the live line's rate and p95 cover the answers of this many seconds


@dataclass
class RunConfig:
    host: str
    out: Path
    profile: str = "digits"
    users: int = 4
    duration: float = 30.0
    shape: str = "constant"
    model: str | None = None
    version: str | None = None
    rows: int = 1
    text_length: str = "short"
    v2_weight: int = 3
    v1_weight: int = 1
    think_time: float = 0.0
    rate: float = 0.0  # target requests/s over all users (open loop, paced); 0 = closed loop
    warmup: float = 0.0  # seconds of load before measuring: stats and timings are reset after it
    replicas_csv: Path | None = None
    load: list[tuple[float, float]] | None = None  # a t,rps profile: open loop along it (rate = its peak)
    reconnect_every: int = 0  # requests per connection (0: keep-alive for the whole run)
    progress: bool = True
    meta: dict = field(default_factory=dict)


def _user_classes(cfg: RunConfig) -> list:
    try:
        classes = PROFILES[cfg.profile]
    except KeyError:
        raise ValueError(f"unknown profile {cfg.profile!r}; choose one of {', '.join(PROFILES)}") from None
    if (cfg.model or cfg.version) and len(classes) > 1:
        raise ValueError(f"--model/--model-version need a single-model profile, not {cfg.profile!r}")
    if cfg.rate < 0:
        raise ValueError(f"--rate must be >= 0, got {cfg.rate:g}")
    for cls in classes:
        changes = dict(
            rate=cfg.rate / cfg.users,
            rows=cfg.rows,
            text_length=TextLength.parse(cfg.text_length),
            v2_weight=cfg.v2_weight,
            v1_weight=cfg.v1_weight,
            think_time=cfg.think_time,
            reconnect_every=cfg.reconnect_every,
            version=cfg.version,
            model=cfg.model or cls.default_model,
        )
        cls.configure(**changes)
    return classes


def _locust_percentiles(env: Environment) -> dict[str, dict[str, float]]:
    """Locust's own percentiles (from its rounded buckets), to compare with the exact ones."""

    def of(entry):
        return {label(p): entry.get_response_time_percentile(p / 100.0) for p in REPORTED}

    result = {entry.name: of(entry) for entry in env.stats.entries.values() if entry.num_requests}
    if env.stats.total.num_requests:
        result["total"] = of(env.stats.total)
    return result


def _progress(started: float, duration: float, runner, recs: list) -> None:
    """The live line: totals, and the rate and p95 of the answers of the last LIVE_WINDOW_S seconds."""
    now = time.time()
    recent = []
    for r in reversed(recs):  # recs are in completion order: stop at the first answer before the window
        if r.end < now - LIVE_WINDOW_S:
            break
        recent.append(r)
    # Early in a run (or just after the warm-up reset) the window is as long as the answers go back.
    window = min(LIVE_WINDOW_S, max(now - recs[0].start, 1.0)) if recs else LIVE_WINDOW_S
    failed = sum(not r.ok for r in recs)
    ok = sorted(r.latency_ms for r in recent if r.ok)  # latency of successes, as in summary.json
    p95 = nearest_rank(ok, 95.0) if ok else float("nan")
    print(
        f"  [{time.monotonic() - started:5.1f}/{duration:g} s] users {runner.user_count}  requests {len(recs)}  "
        f"failed {failed}  rps({window:.0f}s) {len(recent) / window:.1f}  p95({window:.0f}s) {p95:.1f} ms",
        file=sys.stderr,
        flush=True,
    )


def run(cfg: RunConfig) -> summary.Summary:
    """One bounded load run. Raises preflight.TargetError (one-line reason) for a bad target."""
    classes = _user_classes(cfg)
    schedule = schedules.make(cfg.shape, cfg.users, cfg.warmup + cfg.duration, load=cfg.load)
    host = preflight.check_host(cfg.host)
    metadata = preflight.check_target(host, [(cls.workload.model, cls.workload.version) for cls in classes])
    for cls in classes:
        model_metadata = metadata[cls.workload.model]
        column = preflight.wants_columns(model_metadata)
        cls.configure(column=column)
        preflight.check_fit(
            cfg.profile, cls.workload.model, model_metadata, cls.sends.as_column() if column else cls.sends
        )
    cfg.out.mkdir(parents=True, exist_ok=True)

    env = Environment(user_classes=classes, shape_class=ScheduleShape(schedule), host=host)
    recs: list[records.Record] = []
    env.events.request.add_listener(lambda **kw: recs.append(records.from_event(**kw)))
    runner = env.create_local_runner()
    csv_writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT, str(cfg.out / "locust"), full_history=True)
    background = [gevent.spawn(csv_writer.stats_writer), gevent.spawn(stats_history, runner)]
    users_series: list[tuple[float, int]] = []

    print(
        f"load: {cfg.profile} on {host}, {cfg.shape} shape, {cfg.users} users"
        + (f" paced to {cfg.rate:g} requests/s in all" if cfg.rate else "")
        + f", {cfg.duration:g} s"
        + (f" after {cfg.warmup:g} s warm-up" if cfg.warmup else "")
        + f" -> {cfg.out}",
        file=sys.stderr,
        flush=True,
    )
    started, started_epoch = time.monotonic(), time.time()
    runner.start_shape()
    next_print = started + 2.0
    warming = cfg.warmup > 0
    try:
        while runner.state != STATE_STOPPED and time.monotonic() - started < cfg.warmup + cfg.duration + GRACE_S:
            gevent.sleep(0.25)
            if warming and time.monotonic() - started >= cfg.warmup:
                # Connections open, caches and the allocator warm: measure from here on. Like Locust's
                # reset, this keeps requests still in flight, so both count the same requests.
                runner.stats.reset_all()
                recs.clear()
                warming = False
            users_series.append((time.monotonic() - started, runner.user_count))
            if cfg.progress and time.monotonic() >= next_print:
                _progress(started, cfg.warmup + cfg.duration, runner, recs)
                next_print += 2.0
    finally:
        runner.quit()
        gevent.sleep(1.1)  # one more pass of Locust's CSV writer, so its files hold the final stats
        gevent.killall(background)
        csv_writer.close_files()

    (cfg.out / "locust.html").write_text(get_html_report(env, show_download_link=False), encoding="utf-8")
    records.write_csv(recs, cfg.out / "timings.csv")
    meta = {
        "profile": cfg.profile,
        "shape": cfg.shape,
        "users": cfg.users,
        "duration_s": cfg.duration,
        "warmup_s": cfg.warmup,
        "workloads": {
            c.workload.model: {"user_class": c.__name__, "version": c.workload.version, "rows": c.workload.rows}
            for c in classes
        },
        "text_length": cfg.text_length,
        "think_time_s": cfg.think_time,
        "rate_rps": cfg.rate,
        "load_profile": cfg.load,
        "reconnect_every": cfg.reconnect_every,
        # Locust warns when its own CPU passes 90%: the generator, not the server, was then the limit.
        "load_generator_cpu_saturated": bool(runner.cpu_warning_emitted),
        **cfg.meta,
    }
    result = summary.build(recs, target=host, meta=meta, locust_ms=_locust_percentiles(env))
    summary.write(cfg.out / "summary.json", result)
    first = min((r.start for r in recs), default=started_epoch)
    replicas = plots.read_series(cfg.replicas_csv, first) if cfg.replicas_csv else None
    # Charts count seconds from the first request; users_series counts from the runner start.
    offset = first - started_epoch
    plots.timeline(
        recs,
        cfg.out,
        users=[(t - offset, u) for t, u in users_series],
        replicas=replicas,
        title=f"({cfg.profile}, {cfg.users} users)",
    )
    return result
