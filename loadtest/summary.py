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
from collections import Counter
from collections.abc import Iterable

from loadtest.percentiles import percentiles
from loadtest.records import Record

METHOD = "nearest-rank percentiles over successful requests; failures count in error_rate only; rps = requests / window"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


def group_stats(records: list[Record], window_s: float) -> dict:
    latencies = [r.latency_ms for r in records if r.ok]
    failures = len(records) - len(latencies)
    stats = {
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
    meta: dict | None = None,
    locust_ms: dict[str, dict[str, float]] | None = None,
) -> dict:
    """The summary of one run. `locust_ms` holds Locust's own (rounded) percentiles per name and
    for "total", so the report can show how far they are from the exact ones."""
    if records:
        start = min(r.start for r in records)
        end = max(r.end for r in records)
    else:
        start = end = 0.0
    window = end - start
    summary = {
        "target": target,
        "started_at": _iso(start) if records else None,
        "ended_at": _iso(end) if records else None,
        "window_s": window,
        "method": METHOD,
        **(meta or {}),
        "total": group_stats(records, window),
        "endpoints": {},
        "models": {name: group_stats(rs, window) for name, rs in _grouped(records, lambda r: r.model).items()},
    }
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
