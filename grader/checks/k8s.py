"""Labs 04 and 05: the learner's Kubernetes manifests, rendered with kustomize, validated strictly, and
judged by the policy functions of grader.policies.kubernetes (the same ones the k8s tests and `make doctor` use)."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from grader.catalog import register
from grader.context import Context
from grader.policies import kubernetes
from grader.verdict import Fail, Verdict

OVERLAY = "k8s/overlays/kind"
KIND_CONFIG = "k8s/kind-cluster.yaml"
_REMOTE = re.compile(r"(?i)(://|github\.com|^git@|\?ref=)")


def _refuse_remote(root: Path) -> None:
    """kustomize fetches remote bases over the network; a submission may not make the grader do that."""
    for path in (root / "k8s").rglob("kustomization.y*ml"):
        for line in path.read_text(errors="replace").splitlines():
            item = line.strip().removeprefix("- ").strip()
            if _REMOTE.search(item) and not item.startswith("#"):
                raise Fail(
                    f"{path.relative_to(root)} refers to a remote resource ({item}); "
                    "keep every resource in the repository"
                )


def _digest(root: Path) -> str:
    """Content hash of the submission's k8s/ folder: the render cache key (one render per content, not per check)."""
    h = hashlib.sha256()
    for path in sorted((root / "k8s").rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@cache
def _render(root: Path, overlay: str, digest: str) -> list[dict]:
    _refuse_remote(root)
    try:
        return kubernetes.render(root / overlay)
    except kubernetes.RenderError as exc:
        raise Fail(f"{overlay} does not render: {str(exc).splitlines()[-1][-500:]}") from None


def objects(ctx: Context, overlay: str) -> list[dict]:
    ctx.file(f"{overlay}/kustomization.yaml")
    root = ctx.root.resolve()
    return _render(root, overlay, _digest(root))


@register("k8s.render")
def render(ctx: Context, overlay: str = OVERLAY) -> Verdict:
    objs = objects(ctx, overlay)
    findings = kubernetes.validate(objs)
    kinds = ", ".join(sorted({kubernetes.obj_name(o) for o in objs}))
    return Verdict(
        [str(f) for f in findings],
        info=f"{len(objs)} objects valid for Kubernetes {kubernetes.KUBERNETES_VERSION}: {kinds}",
    )


@register("k8s.policy")
def policy(ctx: Context, rules: list[str], overlay: str = OVERLAY) -> Verdict:
    objs = list(objects(ctx, overlay))
    if "nodeport" in rules:
        objs += kubernetes.load_yaml(ctx.file(KIND_CONFIG))
    findings = [str(f) for rule in rules for f in kubernetes.CHECKS[rule](objs)]
    return Verdict(findings, info=f"{overlay}: {', '.join(rules)} rule(s) hold for {len(objs)} objects")


@register("k8s.podspec")
def podspec_run(ctx: Context, overlay: str = OVERLAY) -> Verdict:
    """The rendered pod spec under Docker as the kubelet would run it (grader.ops.podspec): probes, one inference
    through the Service's port, preStop + drain with no request lost, exit within the grace period."""
    from grader.ops import podspec

    objs = objects(ctx, overlay)
    unsafe = kubernetes.check_security_context(objs)
    if unsafe:
        raise Fail(f"not run: fix the securityContext first ({unsafe[0].message})")
    try:
        pod = podspec.plan(objs, ctx.settings.server_image)
    except podspec.PodSpecError as exc:
        raise Fail(f"the pod spec cannot run: {exc}") from None
    report = podspec.run_pod(pod)
    problems = list(report.problems)
    if problems and report.logs_tail:
        problems.append(f"the container's last log lines:\n{report.logs_tail[-800:]}")
    return Verdict(
        problems,
        info=f"ready {report.ready_s:.1f} s, {report.drain_requests_ok} requests served during the drain, none lost, "
        f"exit 0 after {report.stop_s:.1f} s < grace {report.grace_s:g} s",
    )
