"""The HPA what-if tool's output: a text table with a sentence per scaling decision, CSV, JSON and a PNG."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from loadtest.hpa.manifest import Autoscaler, ScalingRules
from loadtest.hpa.simulation import Sync

CSV_NAME, JSON_NAME, PNG_NAME = "hpa-whatif.csv", "hpa-whatif.json", "hpa-whatif.png"


def _rules(rules: ScalingRules) -> str:
    policies = ", ".join(
        f"{p.value}{'%' if p.type == 'Percent' else ' pods'}/{p.period_seconds}s" for p in rules.policies
    )
    return f"window {rules.stabilization_s} s, {rules.select_policy} of [{policies}]"


def describe(
    hpa: Autoscaler, capacity_rps: float, pod_ready_s: float, sync_s: float, metrics_lag_s: float = 0.0
) -> list[str]:
    if hpa.scale_up is None or hpa.scale_down is None:
        behavior = "no behavior: scale-up at most max(2 x current, 4) per sync, scale-down after a 300 s window"
    else:
        behavior = f"scale-up {_rules(hpa.scale_up)}; scale-down {_rules(hpa.scale_down)}"
    return [
        f"HPA {hpa.name}: {hpa.min_replicas}-{hpa.max_replicas} replicas, CPU target {hpa.target_utilization}%",
        f"  {behavior}",
        f"  a replica serves {capacity_rps:g} rps at 100% CPU; new pods ready after {pod_ready_s:g} s; "
        f"sync every {sync_s:g} s" + (f", reading the CPU of {metrics_lag_s:g} s before" if metrics_lag_s else ""),
        f"  no change while utilization / target is in [{1 - hpa.tolerance_down:g}, {1 + hpa.tolerance_up:g}]",
        *(f"  note: {note}" for note in hpa.notes),
    ]


def table(syncs: Sequence[Sync]) -> list[str]:
    lines = [f"{'t (s)':>7} {'rps':>8} {'util %':>7} {'desired':>7} {'ready':>5} {'replicas':>8}"]
    for s in syncs:
        util = "-" if s.utilization is None else str(s.utilization)
        desired = "-" if s.desired is None else str(s.desired)
        lines.append(f"{s.t:>7g} {s.rps:>8g} {util:>7} {desired:>7} {s.ready:>5} {s.replicas:>8}")
    return lines


def decisions(syncs: Sequence[Sync], start_replicas: int) -> list[str]:
    """One sentence per sync that changed the scale."""
    lines, before = [], start_replicas
    for s in syncs:
        if s.replicas != before:
            lines.append(f"t={s.t:g}s: {before} -> {s.replicas} replicas. {s.reason}.")
        before = s.replicas
    return lines or ["no scaling decision: the replica count never changed."]


def as_json(syncs: Sequence[Sync]) -> str:
    return json.dumps({"syncs": [s.as_dict() for s in syncs]}, indent=2)


def write(out: Path, syncs: Sequence[Sync], hpa: Autoscaler, title: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with (out / CSV_NAME).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t", "rps", "utilization", "desired", "ready", "replicas", "reason"])
        for s in syncs:
            writer.writerow([s.t, s.rps, s.utilization, s.desired, s.ready, s.replicas, s.reason])
    (out / JSON_NAME).write_text(as_json(syncs) + "\n")
    return [out / CSV_NAME, out / JSON_NAME, _plot(out / PNG_NAME, syncs, hpa, title)]


def _plot(path: Path, syncs: Sequence[Sync], hpa: Autoscaler, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on CI or in containers
    import matplotlib.pyplot as plt

    ts = [s.t for s in syncs]
    fig, (load_ax, util_ax, pods_ax) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    load_ax.step(ts, [s.rps for s in syncs], where="post", color="tab:blue")
    load_ax.set(ylabel="load (rps)", title=title)
    # The controller's view, sampled at each sync: drawn as steps from one sync to the next.
    util_pts = [(s.t, s.utilization) for s in syncs if s.utilization is not None]
    util_ax.step(
        [t for t, _ in util_pts],
        [u for _, u in util_pts],
        where="post",
        marker=".",
        color="tab:orange",
        label="utilization",
    )
    target = hpa.target_utilization
    util_ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target}%")
    util_ax.axhspan(target * 0.9, target * 1.1, color="grey", alpha=0.15, label="10% tolerance: no change")
    util_ax.set(ylabel="CPU utilization (% of request)")
    util_ax.legend(loc="upper right", fontsize="small")
    pods_ax.step(ts, [s.replicas for s in syncs], where="post", color="tab:green", label="replicas (after the sync)")
    pods_ax.step(
        ts, [s.ready for s in syncs], where="post", color="tab:purple", linestyle="--", label="ready pods (at the sync)"
    )
    pods_ax.axhline(hpa.min_replicas, color="grey", linewidth=0.8, linestyle=":", label=f"min {hpa.min_replicas}")
    pods_ax.axhline(hpa.max_replicas, color="grey", linewidth=0.8, linestyle="-.", label=f"max {hpa.max_replicas}")
    pods_ax.set(xlabel="seconds since start (one point per controller sync)", ylabel="pods")
    pods_ax.set_ylim(top=max(hpa.max_replicas, *(s.replicas for s in syncs)) * 1.25 + 0.5)
    pods_ax.yaxis.get_major_locator().set_params(integer=True)
    pods_ax.legend(loc="upper right", fontsize="small", ncol=2)
    for ax in (load_ax, util_ax, pods_ax):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
