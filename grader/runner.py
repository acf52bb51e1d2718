"""Run a lab's checks on one working tree: requirements, per-check timeout, crash isolation.

Each check runs in a worker thread with its timeout; a check that overruns becomes `timeout`
and its cleanups (containers, networks, images it registered) run at once. A crash becomes
`error` with the exception's one-line reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from pathlib import Path

from grader import catalog, requirements
from grader.context import Context, cap
from grader.results import CheckResult, LabResult, PartResult, Status
from grader.settings import GraderSettings, get_settings
from grader.spec import CheckSpec, LabSpec
from grader.verdict import Fail, Skip, Verdict
from grader.version import GRADER_VERSION

MAX_FEEDBACK = 4000


def printable(text: str) -> str:
    """Control characters (terminal escapes, bidi overrides) spelled out: feedback quotes learners' output."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def _feedback(problems: list[str]) -> str:
    """One problem as it is, several as a list; floods are cut (the count of what was left out is kept)."""
    shown = problems[:20]
    text = "\n".join(f"- {p}" for p in shown) if len(problems) > 1 else "".join(problems)
    if len(problems) > len(shown):
        text += f"\n... and {len(problems) - len(shown)} more"
    return printable(cap(text, MAX_FEEDBACK))


def _call(ctx: Context) -> tuple[Status, Verdict | None, str, str]:
    """(status, verdict, feedback, provide) of one check, within its timeout."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["verdict"] = catalog.get(ctx.check.function_name)(ctx, **ctx.check.args)
        except BaseException as exc:
            box["exc"] = exc

    worker = threading.Thread(target=target, daemon=True, name=f"check-{ctx.check.id}")
    worker.start()
    worker.join(ctx.check.timeout)
    if worker.is_alive():
        if ctx.check.kind == "live":
            from grader import sandbox  # only live checks start containers

            sandbox.remove_run(ctx.run_id)
        return "timeout", None, f"did not finish within {ctx.check.timeout:g} s; its containers were removed", ""
    exc = box.get("exc")
    if isinstance(exc, Fail):
        return "failed", Verdict(problems=[str(exc)]), _feedback([str(exc)]), ""
    if isinstance(exc, Skip):
        return "skipped", None, f"skipped: {exc.reason}", exc.provide
    if isinstance(exc, BaseException):
        return (
            "error",
            None,
            f"the check crashed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            "",
        )
    verdict = box.get("verdict")
    if not isinstance(verdict, Verdict):
        return "error", None, f"the check returned {type(verdict).__name__}, not a Verdict", ""
    if verdict.passed:
        return "passed", verdict, verdict.info, ""
    problems = verdict.problems + [f"{k}: {p}" for k, ps in verdict.parts.items() for p in ps]
    return "failed", verdict, _feedback(problems), ""


def _parts(spec: CheckSpec, status: Status, verdict: Verdict | None) -> list[PartResult]:
    """Sub-point results; a problem of the whole check (verdict.problems) fails every part."""
    out = []
    for sub in spec.subpoints:
        if status in ("passed", "failed") and verdict is not None:
            problems = verdict.parts.get(sub.id, []) + verdict.problems
        else:
            problems = [status]
        ok = not problems
        out.append(PartResult(sub.id, sub.title, sub.points if ok else 0.0, sub.points, ok, _feedback(problems)))
    return out


def run_check(
    spec: CheckSpec,
    lab: LabSpec,
    root: Path,
    run_id: str,
    own_tree: bool = False,
    *,
    batch: bool = False,
    settings: GraderSettings | None = None,
) -> CheckResult:
    settings = settings or get_settings()
    start = time.monotonic()
    provide = ""
    verdict = None
    missing = [(r, requirements.missing(r)) for r in spec.requires]
    missing = [(r, why) for r, why in missing if why]
    if missing:
        status: Status = "skipped"
        feedback = "skipped: " + "; ".join(why or "" for _, why in missing)
        provide = "; ".join(requirements.provide(r, settings) for r, _ in missing)
    else:
        ctx = Context(
            root=root,
            lab=lab,
            check=spec,
            run_id=f"{run_id}-{spec.id.replace('.', '-')}"[:60],
            own_tree=own_tree,
            batch=batch,
            settings=settings,
        )
        try:
            status, verdict, feedback, provide = _call(ctx)
        finally:
            for cleanup in reversed(ctx.cleanups):
                with contextlib.suppress(Exception):  # best effort: the next cleanup must still run
                    cleanup()
    parts = _parts(spec, status, verdict)
    if parts:
        score = sum(p.score for p in parts) if status in ("passed", "failed") else 0.0
    else:
        score = spec.points if status == "passed" else 0.0
    return CheckResult(
        id=spec.id,
        title=spec.title,
        kind=spec.kind,
        status=status,
        score=score,
        max_score=spec.points,
        required=spec.required,
        visibility=spec.visibility,
        student_fails=spec.student_fails,
        feedback=printable(feedback),
        hint=spec.hint,
        duration_s=round(time.monotonic() - start, 3),
        parts=parts,
        provide=provide,
    )


def run_lab(
    lab: LabSpec,
    root: Path,
    *,
    static_only: bool = False,
    only: list[str] | None = None,
    own_tree: bool = False,
    run_id: str | None = None,
    settings: GraderSettings | None = None,
) -> LabResult:
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    # The batch grader passes its own id, so it can remove this run's containers if it has to kill it.
    batch, run_id = run_id is not None, run_id or uuid.uuid4().hex[:8]
    settings = settings or get_settings()
    selected = [c for c in lab.checks if not only or c.id in only]
    not_run = [c.id for c in selected if static_only and c.kind == "live"]
    results = [
        run_check(c, lab, root, run_id, own_tree, batch=batch, settings=settings)
        for c in selected
        if c.id not in not_run
    ]
    return LabResult(
        lab=lab.folder,
        lab_title=lab.title,
        lab_version=lab.version,
        grader_version=GRADER_VERSION,
        submission=str(root),
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 3),
        static_only=static_only,
        checks=results,
        not_run=not_run,
    )
