"""Lab 05: the predicted replica timeline next to the one recorded on kind, in one plot.

    python labs/05-autoscale/compare.py                                  # the defaults below
    python labs/05-autoscale/compare.py --observed results/hpa-watch.csv --out results/labs/05/compare.png

--prediction is the what-if tool's --json output; --observed is the CSV of `make k8s-loadtest` / `make hpa-watch`
(time,replicas,desired,current,ready,cpu_utilization, epoch seconds), by default the copy the grader reads. Both
start at their own t=0.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib
import yaml

from loadtest.hpa import verify as hpa_verify

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def ready_points(path: Path) -> list[tuple[float, int]]:
    """Ready pods over time, seconds since the first row (the replicas come from loadtest.hpa.verify)."""
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("replicas") and r.get("ready")]
    return [(float(r["time"]) - float(rows[0]["time"]), int(r["ready"])) for r in rows] if rows else []


def summary(name: str, series: list[tuple[float, int]]) -> str:
    start, peak = series[0][1], max(r for _, r in series)
    at_peak = next(t for t, r in series if r == peak)
    back = next((t for t, r in series if t > at_peak and r <= start), None)
    down = f"back to {start} at {back:.0f} s" if back is not None else f"still {series[-1][1]} at the end"
    return f"{name}: {start} -> peak {peak} replicas at {at_peak:.0f} s, {down}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prediction", type=Path, default=Path("labs/05-autoscale/prediction.json"))
    parser.add_argument("--observed", type=Path, default=Path("labs/05-autoscale/observed.csv"))
    parser.add_argument("--out", type=Path, default=Path("results/labs/05/compare.png"))
    parser.add_argument("--hpa", type=Path, default=Path("k8s/base/hpa.yaml"), help="its scale-down window")
    parser.add_argument("--load", type=Path, default=Path("labs/05-autoscale/step-load.csv"), help="when load drops")
    args = parser.parse_args(argv)
    try:
        plan = hpa_verify.predicted_points(json.loads(args.prediction.read_text()))
        seen = hpa_verify.observed_points(args.observed.read_text(), str(args.observed))
        ready = ready_points(args.observed)
        rise, drop = hpa_verify.peak_span(args.load.read_text())
        behavior = (yaml.safe_load(args.hpa.read_text()).get("spec") or {}).get("behavior") or {}
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    window = float((behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds", 300))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.step(*zip(*plan, strict=True), where="post", label="predicted replicas (what-if)", color="tab:green")
    ax.step(
        *zip(*seen, strict=True), where="post", label="observed replicas (kind: the HPA's desired)", color="tab:orange"
    )
    if ready:
        ax.step(*zip(*ready, strict=True), where="post", label="observed ready pods", color="tab:orange", ls="--")
    ax.axvspan(rise, drop, color="grey", alpha=0.12, label="the load's peak step")
    ax.set(xlabel="seconds since start", ylabel="pods", title="HPA: predicted against observed")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, bbox_inches="tight")
    print(summary("predicted", plan))
    print(summary("observed ", seen))
    verdict = hpa_verify.verify(plan, seen, drop, window)
    print(verdict.table())
    for problem in verdict.problems:
        print(f"differs: {problem}")
    if not verdict.problems:
        print(
            "the cluster did what the tool predicted, within the tolerances (peak +-1 replica, time +-2 syncs, "
            "scale-down not before the stabilization window)"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
