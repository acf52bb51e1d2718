"""Lab 05: the learner's HPA (autoscaling/v2, CPU target, behavior) and the replica timeline they
predicted with the what-if tool, re-run here on their HPA and the lab's step load (the reference copy)."""

from __future__ import annotations

import json
import sys

from grader.catalog import register
from grader.context import Context, cap, run_tool
from grader.verdict import Fail, Skip, Verdict
from loadtest.hpa import verify as hpa_verify

HPA = "k8s/base/hpa.yaml"
PREDICTION = "labs/05-autoscale/prediction.json"
STEP_LOAD = "labs/05-autoscale/step-load.csv"
OBSERVED = "labs/05-autoscale/observed.csv"


def _hpa(ctx: Context, path: str) -> dict:
    docs = ctx.yaml(path)
    if not isinstance(docs, dict) or docs.get("kind") != "HorizontalPodAutoscaler":
        raise Fail(f"{path} is not a HorizontalPodAutoscaler manifest")
    return docs


@register("hpa.spec")
def spec(ctx: Context, path: str = HPA) -> Verdict:
    hpa = _hpa(ctx, path)
    problems = []
    if hpa.get("apiVersion") != "autoscaling/v2":
        problems.append(f"apiVersion is {hpa.get('apiVersion')}; use autoscaling/v2 (metrics and behavior)")
    body = hpa.get("spec") or {}
    cpu = [
        m
        for m in body.get("metrics") or []
        if isinstance(m, dict)
        and (m.get("resource") or {}).get("name") == "cpu"
        and ((m.get("resource") or {}).get("target") or {}).get("type") == "Utilization"
    ]
    if not cpu:
        problems.append("no CPU utilization metric: add a Resource metric on cpu with target type Utilization")
    behavior = body.get("behavior") or {}
    if "scaleUp" not in behavior or "scaleDown" not in behavior:
        problems.append(
            "no behavior.scaleUp and behavior.scaleDown: "
            "set how fast to add pods and the scale-down stabilization window"
        )
    target = cpu[0]["resource"]["target"].get("averageUtilization") if cpu else None
    return Verdict(problems, info=f"CPU target {target}%, behavior set")


def what_if(
    ctx: Context,
    hpa: str,
    capacity_rps: float,
    start_replicas: int,
    pod_ready_s: float,
    metrics_lag_s: float,
    load: str,
) -> dict:
    proc = run_tool(
        [
            sys.executable,
            "-m",
            "loadtest",
            "hpa",
            "--hpa",
            str(ctx.file(hpa)),
            "--capacity-rps",
            f"{capacity_rps:g}",
            "--load",
            str(ctx.reference / load),
            "--start-replicas",
            str(start_replicas),
            "--pod-ready-s",
            f"{pod_ready_s:g}",
            "--metrics-lag-s",
            f"{metrics_lag_s:g}",
            "--json",
        ],
        timeout=60,
    )
    if proc.returncode != 0:
        raise Fail(f"the what-if tool refused {hpa}: {cap(proc.stderr or proc.stdout, 600)}")
    return json.loads(proc.stdout)


def _timeline(data: object, where: str) -> list[tuple[float, int]]:
    syncs = data.get("syncs") if isinstance(data, dict) else None
    if not isinstance(syncs, list) or not syncs:
        raise Fail(f"{where} has no `syncs` list: save the output of `python -m loadtest hpa ... --json`")
    try:
        return [(float(s["t"]), int(s["replicas"])) for s in syncs]
    except (KeyError, TypeError, ValueError) as exc:
        raise Fail(f"{where}: a sync lacks a number for {exc}") from None


@register("hpa.prediction")
def prediction(
    ctx: Context,
    path: str = PREDICTION,
    hpa: str = HPA,
    load: str = STEP_LOAD,
    capacity_rps: float = 40,
    start_replicas: int = 2,
    pod_ready_s: float = 10,
    metrics_lag_s: float = 30,
    min_peak: int = 3,
) -> Verdict:
    predicted = _timeline(ctx.json(path), path)
    rerun = _timeline(
        what_if(ctx, hpa, capacity_rps, start_replicas, pod_ready_s, metrics_lag_s, load), "the what-if tool's output"
    )
    problems = []
    if predicted != rerun:
        first = next(
            (i for i, (a, b) in enumerate(zip(predicted, rerun, strict=False)) if a != b),
            min(len(predicted), len(rerun)),
        )
        seen = predicted[first] if first < len(predicted) else "nothing"
        want = rerun[first] if first < len(rerun) else "nothing"
        problems.append(
            f"{path} does not match the what-if tool on your {hpa} and {load} "
            f"(sync {first}: yours {seen}, tool {want}); "
            "regenerate it after your last HPA change"
        )
    peak = max(r for _, r in rerun)
    if peak < min_peak:
        problems.append(f"your HPA peaks at {peak} replicas under the step load; it should reach at least {min_peak}")
    if rerun[-1][1] >= peak:
        problems.append(
            f"your HPA never scales down after the load drops (ends at {rerun[-1][1]}); check behavior.scaleDown"
        )
    return Verdict(problems, info=f"{len(rerun)} syncs, peak {peak} replicas, ends at {rerun[-1][1]}")


@register("hpa.observed")
def observed(
    ctx: Context, path: str = OBSERVED, prediction_path: str = PREDICTION, hpa: str = HPA, load: str = STEP_LOAD
) -> Verdict:
    """Predict, then verify: the run the learner recorded on kind (`make k8s-loadtest`'s hpa.csv, copied to `path`)
    against their prediction, within loadtest.hpa.verify's tolerances; the scale-down window is their HPA's."""
    if not ctx.exists(path):  # a recording needs kind: without one the lab is PARTIAL, as its live checks are
        raise Skip(
            f"no recording {path}: it is made on kind",
            f"make cluster-up deploy k8s-loadtest, then cp results/k8s-loadtest/hpa.csv {path}",
        )
    predicted = _timeline(ctx.json(prediction_path), prediction_path)
    try:
        seen = hpa_verify.observed_points(ctx.text(path), path)
        drop = hpa_verify.load_drop_s((ctx.reference / load).read_text())
    except ValueError as exc:
        raise Fail(str(exc)) from None
    scale_down = ((_hpa(ctx, hpa).get("spec") or {}).get("behavior") or {}).get("scaleDown") or {}
    window = float(scale_down.get("stabilizationWindowSeconds", 300))  # the controller's default
    verdict = hpa_verify.verify(predicted, seen, drop, window)
    shape = verdict.observed
    return Verdict(
        verdict.problems,
        info=f"observed peak {shape.peak}, within {hpa_verify.PEAK_TOLERANCE} of it at {shape.near_peak_t:.0f} s "
        f"(predicted {verdict.predicted.peak}, {verdict.predicted.near_peak_t:.0f} s), first scale-down "
        + ("never" if shape.down_t is None else f"at {shape.down_t:.0f} s"),
    )
