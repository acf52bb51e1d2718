"""Labs 04 and 05 live, on the learner's kind cluster: the Deployment is available with its replicas and
the HPA reads a CPU figure (not <unknown>). They skip without kind (see `make doctor`)."""

from __future__ import annotations

import json

from grader.catalog import register
from grader.context import Context, cap, run_tool
from grader.programs import kubectl
from grader.verdict import Fail, Verdict


def _get(ctx: Context, kind: str, name: str) -> dict:
    where = ["--context", ctx.settings.kube_context, "-n", ctx.settings.namespace]
    proc = run_tool([kubectl(), *where, "get", kind, name, "-o", "json"], timeout=30)
    if proc.returncode != 0:
        raise Fail(f"kubectl get {kind}/{name}: {cap(proc.stderr, 300)}; deploy with `make cluster-up deploy`")
    return json.loads(proc.stdout)


@register("cluster.deployment_available")
def deployment_available(ctx: Context, name: str = "model-server", minimum: int = 2) -> Verdict:
    status = _get(ctx, "deployment", name).get("status", {})
    ready = status.get("readyReplicas", 0)
    if ready < minimum:
        return Verdict(
            [f"deployment/{name} has {ready} ready replica(s), expected at least {minimum}; see `kubectl describe`"]
        )
    return Verdict(info=f"{ready} ready replicas")


@register("cluster.hpa_metrics")
def hpa_metrics(ctx: Context, name: str = "model-server") -> Verdict:
    status = _get(ctx, "hpa", name).get("status", {})
    cpu = [m for m in status.get("currentMetrics") or [] if (m.get("resource") or {}).get("name") == "cpu"]
    if not cpu:
        return Verdict(
            [f"hpa/{name} reads no CPU figure (<unknown>): is metrics-server installed and do pods request CPU?"]
        )
    return Verdict(info=f"current CPU {cpu[0]['resource']['current'].get('averageUtilization')}%")
