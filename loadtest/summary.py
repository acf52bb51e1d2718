"""summary.json: per-endpoint, per-model and total RPS, exact percentiles and errors by type.

Conventions (stated in the file itself, so a reader of the JSON knows them):
- latency percentiles are nearest-rank over successful requests only; failures count in the error
  rate, never in latency (usual SRE practice: a fast 503 is not a fast answer). Locust itself mixes
  them, so `exact_minus_locust_ms` is given only for groups without failures;
- RPS divides by the measured window, from the first request sent to the last answer received,
  the same window for every group so that endpoint RPS add up to the total.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from loadtest.percentiles import percentiles
from loadtest.records import Record

METHOD = "nearest-rank percentiles over successful requests; failures count in error_rate only; rps = requests / window"


class GroupStats(TypedDict):
    """One group of requests (the total, an endpoint or a model)."""

    requests: int
    failures: int
    error_rate: float
    rps: float
    ok_rps: float
    errors: dict[str, int]  # error text -> count, most common first
    latency_ms: NotRequired[dict[str, float]]  # p50, p90, p95, p99, max, min, mean; absent without a success
    locust_ms: NotRequired[dict[str, float]]  # Locust's own rounded percentiles
    exact_minus_locust_ms: NotRequired[dict[str, float]]


class EndpointStats(GroupStats):
    method: str
    model: str


class Summary(TypedDict):
    """summary.json as the runner writes it; the run's settings (`meta`) sit beside the statistics."""

    target: str
    started_at: str | None
    ended_at: str | None
    window_s: float
    method: str
    total: GroupStats
    endpoints: dict[str, EndpointStats]
    models: dict[str, GroupStats]
    # The runner's settings (loadtest.runner.run's meta)
    profile: NotRequired[str]
    shape: NotRequired[str]
    users: NotRequired[int]
    duration_s: NotRequired[float]
    warmup_s: NotRequired[float]
    workloads: NotRequired[dict[str, dict[str, Any]]]
    text_length: NotRequired[str]
    think_time_s: NotRequired[float]
    rate_rps: NotRequired[float | None]
    load_profile: NotRequired[str | None]
    reconnect_every: NotRequired[int | None]
    load_generator_cpu_saturated: NotRequired[bool]
    trial: NotRequired[int]  # `run --trials N`
    config: NotRequired[str]  # the trade-off study: the configuration's id, its server flags and figures
    server_args: NotRequired[list[str]]
    server: NotRequired[dict[str, Any]]


def write(path: Path, summary: Summary) -> None:
    path.write_text(json.dumps(summary, indent=2) + "\n")


def read(path: Path) -> Summary:
    """A summary.json as written by `write` (not validated: readers check the fields they need)."""
    return cast(Summary, json.loads(path.read_text()))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


def group_stats(records: list[Record], window_s: float) -> GroupStats:
    latencies = [r.latency_ms for r in records if r.ok]
    failures = len(records) - len(latencies)
    stats: GroupStats = {
        "requests": len(records),
        "failures": failures,
        "error_rate": failures / len(records) if records else 0.0,
        "rps": len(records) / window_s if window_s > 0 else 0.0,
        "ok_rps": (len(records) - failures) / window_s if window_s > 0 else 0.0,
        "errors": dict(Counter(r.error for r in records if not r.ok).most_common()),
    }
    if latencies:
        stats["latency_ms"] = {
            **percentiles(latencies),
            "min": min(latencies),
            "mean": sum(latencies) / len(latencies),
        }
    return stats


def _grouped(records: Iterable[Record], key) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return dict(sorted(groups.items()))


def build(
    records: list[Record],
    *,
    target: str,
    meta: dict[str, Any] | None = None,
    locust_ms: dict[str, dict[str, float]] | None = None,
) -> Summary:
    """The summary of one run. `locust_ms` holds Locust's own (rounded) percentiles per name and
    for "total", so the report can show how far they are from the exact ones."""
    if records:
        start = min(r.start for r in records)
        end = max(r.end for r in records)
    else:
        start = end = 0.0
    window = end - start
    # A cast: the run's settings (`meta`) come in as a plain dict, between the header and the statistics.
    summary = cast(
        Summary,
        {
            "target": target,
            "started_at": _iso(start) if records else None,
            "ended_at": _iso(end) if records else None,
            "window_s": window,
            "method": METHOD,
            **(meta or {}),
            "total": group_stats(records, window),
            "endpoints": {},
            "models": {name: group_stats(rs, window) for name, rs in _grouped(records, lambda r: r.model).items()},
        },
    )
    for name, rs in _grouped(records, lambda r: r.name).items():
        summary["endpoints"][name] = {"method": rs[0].method, "model": rs[0].model, **group_stats(rs, window)}
    if locust_ms:
        for name, target_stats in [("total", summary["total"]), *summary["endpoints"].items()]:
            rounded = locust_ms.get(name)
            if not rounded:
                continue
            target_stats["locust_ms"] = rounded
            if "latency_ms" in target_stats and not target_stats["failures"]:  # else they count different requests
                exact = target_stats["latency_ms"]
                target_stats["exact_minus_locust_ms"] = {k: exact[k] - v for k, v in rounded.items() if k in exact}
    return summary
