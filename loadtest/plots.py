"""PNG charts of a run: latency percentiles, throughput and (optionally) replicas over time."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or in containers
import matplotlib.pyplot as plt

from loadtest.percentiles import percentiles
from loadtest.records import Record

_LINES = ("p50", "p95", "p99")


def per_second(records: list[Record], t0: float) -> list[dict]:
    """One row per whole second of the run (by completion time): requests, failures, exact percentiles of the
    successes. Only seconds during which requests were still being sent: the fraction of a second after the
    last request was sent holds only the answers still in flight at the stop (few, and the slowest), which
    would look like an event at the end of every chart."""
    buckets: dict[int, list[Record]] = {}
    for r in records:
        buckets.setdefault(int(r.end - t0), []).append(r)
    whole = int(max((r.start for r in records), default=t0) - t0)  # seconds fully inside the sending window
    rows = []
    for second in range(min(max(buckets, default=-1) + 1, max(whole, 1))):
        rs = buckets.get(second, [])
        row: dict[str, float] = {"t": second, "requests": len(rs), "failures": sum(not r.ok for r in rs)}
        if ok := [r.latency_ms for r in rs if r.ok]:
            row.update(percentiles(ok, (50.0, 95.0, 99.0)))
        rows.append(row)
    return rows


def read_series(path: Path, t0: float) -> list[tuple[float, float]]:
    """A 'time,replicas' CSV; time is epoch seconds or seconds since the start of the run. Raises ValueError
    (one line) for a file that is not one: other columns, a value that is not a finite number >= 0."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"time", "replicas"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: the header must name the columns time,replicas (got {reader.fieldnames})")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                t, replicas = float(row["time"]), float(row["replicas"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{line}: time and replicas must be numbers") from None
            if not (math.isfinite(t) and math.isfinite(replicas) and t >= 0 and replicas >= 0):
                raise ValueError(f"{path}:{line}: time and replicas must be finite numbers >= 0")
            rows.append((t, replicas))
    return [(t - t0 if t > 1e9 else t, v) for t, v in rows]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput_figure(rows: list[dict], users: list[tuple[float, int]] | None, title: str = ""):
    """ok/s and failed/s per second; active users on a second axis, drawn in the lower half (dotted), so
    a flat users line and a flat throughput line (an open loop) never lie on top of each other."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ts = [row["t"] for row in rows]
    ok = [row["requests"] - row["failures"] for row in rows]
    ax.plot(ts, ok, label="ok / s", color="tab:green", linewidth=2, zorder=3)
    ax.plot(ts, [row["failures"] for row in rows], label="failed / s", color="tab:red", zorder=3)
    ax.set(xlabel="seconds since start", ylabel="requests per second", title=f"Throughput {title}".strip())
    ax.set_ylim(0, max(ok, default=1) * 1.25 or 1)  # the throughput line below the top edge
    ax.grid(alpha=0.3)
    if users:
        twin = ax.twinx()
        twin.step([u[0] for u in users], [u[1] for u in users], where="post", color="tab:gray", linestyle=":",
                  label="users")  # fmt: skip
        twin.set_ylabel("users")
        twin.set_ylim(0, max(u[1] for u in users) * 2)  # the users line at half height at most
        twin.legend(loc="upper right")
    ax.legend(loc="upper left")
    return fig


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

    written.append(_save(throughput_figure(rows, users, title), out / "throughput.png"))

    if replicas:
        written.append(replicas_chart(replicas, out, title))
    return written


def replicas_chart(replicas: list[tuple[float, float]], out: Path, title: str = "") -> Path:
    """replicas.png: (seconds since the first request, replicas), as a step line."""
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.step([p[0] for p in replicas], [p[1] for p in replicas], where="post", color="tab:purple")
    ax.set(xlabel="seconds since start", ylabel="replicas", title=f"Replicas {title}".strip())
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return _save(fig, out / "replicas.png")
