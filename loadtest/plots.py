"""PNG charts of a run: latency percentiles, throughput and (optionally) replicas over time."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or in containers
import matplotlib.pyplot as plt

from loadtest.percentiles import percentiles
from loadtest.records import Record

_LINES = ("p50", "p95", "p99")


def per_second(records: list[Record], t0: float) -> list[dict]:
    """One row per second of the run (by completion time): requests, failures, exact percentiles of the successes."""
    buckets: dict[int, list[Record]] = {}
    for r in records:
        buckets.setdefault(int(r.end - t0), []).append(r)
    rows = []
    for second in range(max(buckets, default=-1) + 1):
        rs = buckets.get(second, [])
        row: dict[str, float] = {"t": second, "requests": len(rs), "failures": sum(not r.ok for r in rs)}
        if ok := [r.latency_ms for r in rs if r.ok]:
            row.update(percentiles(ok, (50.0, 95.0, 99.0)))
        rows.append(row)
    return rows


def read_series(path: Path, t0: float) -> list[tuple[float, float]]:
    """A 'time,replicas' CSV; time is epoch seconds or seconds since the start of the run."""
    with path.open(newline="") as fh:
        rows = [(float(r["time"]), float(r["replicas"])) for r in csv.DictReader(fh)]
    return [(t - t0 if t > 1e9 else t, v) for t, v in rows]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def timeline(
    records: list[Record],
    out: Path,
    users: list[tuple[float, int]] | None = None,
    replicas: list[tuple[float, float]] | None = None,
    title: str = "",
) -> list[Path]:
    """latency.png, throughput.png and, with a replica series, replicas.png. Times are seconds since
    the first request; `users` is (seconds, active users) sampled by the runner."""
    if not records:
        return []
    t0 = min(r.start for r in records)
    rows = per_second(records, t0)
    written = []

    fig, ax = plt.subplots(figsize=(8, 4))
    for key in _LINES:
        pts = [(row["t"], row[key]) for row in rows if key in row]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, marker=".")
    ax.set(
        xlabel="seconds since start", ylabel="latency of successes (ms, exact, per s)", title=f"Latency {title}".strip()
    )
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    written.append(_save(fig, out / "latency.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    ts = [row["t"] for row in rows]
    ax.plot(ts, [row["requests"] - row["failures"] for row in rows], label="ok / s", color="tab:green")
    ax.plot(ts, [row["failures"] for row in rows], label="failed / s", color="tab:red")
    ax.set(xlabel="seconds since start", ylabel="requests per second", title=f"Throughput {title}".strip())
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if users:
        twin = ax.twinx()
        twin.step([u[0] for u in users], [u[1] for u in users], where="post", color="tab:gray", label="users")
        twin.set_ylabel("users")
        twin.set_ylim(bottom=0)
        twin.legend(loc="upper right")
    ax.legend(loc="upper left")
    written.append(_save(fig, out / "throughput.png"))

    if replicas:
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.step([p[0] for p in replicas], [p[1] for p in replicas], where="post", color="tab:purple")
        ax.set(xlabel="seconds since start", ylabel="replicas", title=f"Replicas {title}".strip())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        written.append(_save(fig, out / "replicas.png"))
    return written
