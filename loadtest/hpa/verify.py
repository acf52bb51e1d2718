"""Predict, then verify: the what-if tool's replica timeline against one recorded on a cluster, within stated
tolerances (lab 05's point, checked by `labs/05-autoscale/compare.py` and the grader's `hpa.observed`).

The two timelines start at their own t=0 (the load's start; the recorder starts a moment before it), so times
are compared with a tolerance of whole HPA syncs:
- the peak replica count within PEAK_TOLERANCE replicas;
- the time each timeline first comes within PEAK_TOLERANCE of its own peak, within TIME_TOLERANCE_SYNCS syncs (the
  last replica of a climb is added when the utilization crosses the tolerance band around the target, which on a
  real cluster can take minutes of noise: the time to the peak itself would measure that noise, not the model);
- the first scale-down after the load drops not before the scale-down stabilization window has passed (less one
  sync for the recorder's offset): an HPA that shrinks earlier did not apply the window the prediction assumed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

PEAK_TOLERANCE = 1
TIME_TOLERANCE_SYNCS = 2

Points = list[tuple[float, int]]


def predicted_points(prediction: dict) -> Points:
    """The what-if tool's --json output: one point per sync."""
    return [(float(s["t"]), int(s["replicas"])) for s in prediction["syncs"]]


def observed_points(text: str, where: str) -> Points:
    """A recorded timeline (`make hpa-watch` / `make k8s-loadtest`: time in epoch seconds, replicas, desired), from
    t=0. The HPA's decision is `desired` (status.desiredReplicas), what the prediction's replicas are; `replicas`
    (status.currentReplicas) follows it a sync later, so it is the fallback for rows without a decision."""
    rows = [r for r in csv.DictReader(text.splitlines()) if (r.get("replicas") or "").strip()]
    if not rows:
        raise ValueError(f"{where} has no rows with a replica count (columns time,replicas,...)")
    try:
        t0 = float(rows[0]["time"])
        return [(float(r["time"]) - t0, int((r.get("desired") or "").strip() or r["replicas"])) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: a row lacks a number in time or replicas ({exc})") from None


def peak_span(step_load_csv: str) -> tuple[float, float]:
    """When a t,rps CSV is at its highest rate: from that row's t to the next row's (the drop)."""
    rows = [(float(r["t"]), float(r["rps"])) for r in csv.DictReader(step_load_csv.splitlines())]
    top = max(range(len(rows)), key=lambda i: rows[i][1])
    if top + 1 >= len(rows):
        raise ValueError("the load never drops after its peak")
    return rows[top][0], rows[top + 1][0]


def load_drop_s(step_load_csv: str) -> float:
    """When the load steps down from its peak."""
    return peak_span(step_load_csv)[1]


@dataclass(frozen=True)
class Shape:
    start: int
    peak: int
    near_peak_t: float  # first time within PEAK_TOLERANCE of the peak (above the start)
    down_t: float | None  # first decrease after the load drops (None: never)

    @classmethod
    def of(cls, points: Points, load_drop_s: float) -> Shape:
        peak = max(r for _, r in points)
        near = peak - PEAK_TOLERANCE if peak - PEAK_TOLERANCE > points[0][1] else peak
        near_peak_t = next(t for t, r in points if r >= near)
        down_t, before = None, None
        for t, r in points:
            if t >= load_drop_s and before is not None and r < before:
                down_t = t
                break
            before = r
        return cls(points[0][1], peak, near_peak_t, down_t)


@dataclass(frozen=True)
class Verdict:
    predicted: Shape
    observed: Shape
    problems: list[str]

    def table(self) -> str:
        def down(s: Shape) -> str:
            return "never" if s.down_t is None else f"{s.down_t:.0f} s"

        p, o = self.predicted, self.observed
        rows = [
            ("start replicas", str(p.start), str(o.start)),
            ("peak replicas", str(p.peak), str(o.peak)),
            (f"within {PEAK_TOLERANCE} of the peak", f"{p.near_peak_t:.0f} s", f"{o.near_peak_t:.0f} s"),
            ("first scale-down after the drop", down(p), down(o)),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"{'':{width}}  predicted  observed"]
        lines += [f"{name:{width}}  {a:>9}  {b:>8}" for name, a, b in rows]
        return "\n".join(lines)


def verify(
    predicted: Points, observed: Points, load_drop_s: float, stabilization_s: float, sync_s: float = 15.0
) -> Verdict:
    """Problems (empty: the cluster did what the tool predicted, within the tolerances)."""
    p, o = Shape.of(predicted, load_drop_s), Shape.of(observed, load_drop_s)
    problems = []
    if abs(o.peak - p.peak) > PEAK_TOLERANCE:
        problems.append(f"peak of {o.peak} replicas observed, {p.peak} predicted (tolerance {PEAK_TOLERANCE})")
    if abs(o.near_peak_t - p.near_peak_t) > TIME_TOLERANCE_SYNCS * sync_s:
        problems.append(
            f"within {PEAK_TOLERANCE} of the peak at {o.near_peak_t:.0f} s, predicted {p.near_peak_t:.0f} s "
            f"(tolerance {TIME_TOLERANCE_SYNCS} syncs of {sync_s:g} s)"
        )
    earliest = load_drop_s + stabilization_s - sync_s
    if o.down_t is not None and o.down_t < earliest:
        problems.append(
            f"scaled down at {o.down_t:.0f} s, before the {stabilization_s:g} s stabilization window after the "
            f"load dropped at {load_drop_s:g} s had passed"
        )
    if o.down_t is None and p.down_t is not None:
        problems.append(f"never scaled down after the load dropped; predicted at {p.down_t:.0f} s (record longer?)")
    return Verdict(p, o, problems)
