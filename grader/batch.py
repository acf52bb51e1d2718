"""Batch grading: every submission is unpacked into a private copy and graded by a worker process
(grader.worker: imports once, grades one submission per request) with a deadline, a memory cap and its
own process group. A worker that misses the deadline is killed (with the containers of its run) and the
submission recorded as `timeout`; a crash is `error`; the batch always carries on.
Outputs: gradebook.csv, per-student feedback (Markdown, JSON, Gradescope
results.json), and a summary (JSON, Markdown, score histogram PNG).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import builds, formats, intake, sandbox
from grader.results import CheckResult, LabResult
from grader.spec import REPO_ROOT, LabSpec
from grader.version import GRADER_VERSION

CHILD_MEMORY_BYTES = 4 * 1024**3


@dataclass
class Graded:
    student: str
    status: str  # ok | timeout | error
    result: LabResult
    seconds: float
    reason: str = ""


def submissions(folder: Path) -> list[Path]:
    """Each folder, .zip or .tar.gz directly inside `folder`, by name (hidden entries ignored)."""
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.name.endswith(intake.ARCHIVES))
    )


def identities(subs: list[Path]) -> tuple[dict[Path, str], list[str]]:
    """A unique, printable name per submission (its feedback folder and gradebook row), and a note for
    each name that had to be told apart (`alice/` and `alice.zip` become `alice` and `alice.zip`)."""
    base = {p: intake.student_name(p) for p in subs}
    counts = Counter(base.values())
    names: dict[Path, str] = {}
    for p in subs:
        name = base[p] if counts[base[p]] == 1 else intake.safe_name(p.name)
        n = 1
        while name in names.values():  # still equal once escaped (`\\xff` typed vs the byte): numbered
            n += 1
            name = f"{intake.safe_name(p.name)}~{n}"
        names[p] = name
    notes = [
        f"{n} submissions would be named {name}; each is graded under a unique name: "
        + ", ".join(names[p] for p in subs if base[p] == name)
        for name, n in counts.items()
        if n > 1
    ]
    return names, notes


def placeholder(lab: LabSpec, student: str, status: str, reason: str, seconds: float, static_only: bool) -> LabResult:
    """Every check at 0 points with the reason, for a submission that could not be graded."""
    checks = [
        CheckResult(
            id=c.id, title=c.title, kind=c.kind, status="timeout" if status == "timeout" else "error", score=0.0,
            max_score=c.points, required=c.required, visibility=c.visibility, student_fails=c.student_fails,
            feedback=reason, hint=c.hint, duration_s=0.0,
        )
        for c in lab.checks
        if not (static_only and c.kind == "live")
    ]  # fmt: skip
    return LabResult(
        lab=lab.folder, lab_title=lab.title, lab_version=lab.version, grader_version=GRADER_VERSION,
        submission=student, started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        duration_s=round(seconds, 3), static_only=static_only, checks=checks,
    )  # fmt: skip


class Worker:
    """One `python -m grader.worker` child in its own process group; replaced after a kill or a recycle."""

    def __init__(self, ledger: Path) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.ledger = ledger  # where image builds record what they made (grader.builds)

    def _start(self) -> subprocess.Popen[str]:
        env = {
            **os.environ, "GRADER_MEMORY_LIMIT": str(CHILD_MEMORY_BYTES), "PYTHONDONTWRITEBYTECODE": "1",
            "GRADER_LEDGER": str(self.ledger),
        }  # fmt: skip
        return subprocess.Popen(
            [sys.executable, "-m", "grader.worker"],
            cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.proc = None

    def grade(self, task: dict, timeout: float) -> dict | None:
        """The worker's reply, or None when it missed the deadline (it is killed)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(json.dumps(task) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return {"ok": False, "error": "the grading worker died"}
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return None
        line = self.proc.stdout.readline()
        reply = (
            json.loads(line)
            if line
            else {"ok": False, "error": "the grading worker died (memory limit?)", "recycle": True}
        )
        if reply.get("recycle"):
            self.stop()
        return reply


def grade_one(
    src: Path, student: str, lab: LabSpec, work: Path, static_only: bool, timeout: float, worker: Worker
) -> Graded:
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="grade-", dir=work))
    run_id = uuid.uuid4().hex[:8]

    def failed(status: str, reason: str) -> Graded:
        took = time.monotonic() - start
        return Graded(student, status, placeholder(lab, student, status, reason, took, static_only), took, reason)

    try:
        try:
            root = intake.unpack_isolated(src, tmp / "submission")
        except intake.Refused as exc:
            return failed("error", f"submission refused: {exc}")
        out = tmp / "result.json"
        task = {"lab": lab.id, "root": str(root), "out": str(out), "static_only": static_only, "run_id": run_id}
        reply = worker.grade(task, timeout)
        if reply is None:
            sandbox.remove_run(run_id)
            return failed("timeout", f"grading took longer than {timeout:g} s and was stopped")
        if reply.get("recycle"):  # a check timed out inside the worker: sweep what its thread may have started
            sandbox.remove_run(run_id)
        if not reply.get("ok"):
            return failed("error", f"the grader could not grade this submission: {reply.get('error')}")
        result = LabResult.from_dict(json.loads(out.read_text()))
        result.submission = student
        return Graded(student, "ok", result, time.monotonic() - start)
    except Exception as exc:  # whatever breaks on one submission is that submission's row
        return failed("error", f"the grader could not grade this submission: {type(exc).__name__}: {exc!s:.300}")
    finally:
        builds.sweep(worker.ledger, run_id)
        shutil.rmtree(tmp, ignore_errors=True)


def write_student(out: Path, g: Graded) -> None:
    folder = out / "students" / g.student
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.md").write_text(formats.markdown(g.result))
    (folder / "result.json").write_text(formats.project_json(g.result))
    (folder / "results.json").write_text(formats.gradescope(g.result))


def spreadsheet_safe(cell: str) -> str:
    """A leading quote keeps a spreadsheet from reading a name such as `=2+5` as a formula (OWASP)."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def write_gradebook(path: Path, lab: LabSpec, graded: list[Graded], static_only: bool) -> None:
    checks = [c for c in lab.checks if not (static_only and c.kind == "live")]
    ids = [c.id for c in checks]
    possible = f"{sum(c.points for c in checks):g}"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "grading_status", "score", "max_score", *ids])
        w.writerow(["POINTS POSSIBLE", "", possible, possible, *(f"{c.points:g}" for c in checks)])
        for g in graded:
            scores = {c.id: f"{c.score:g}" for c in g.result.checks}
            w.writerow(
                [
                    spreadsheet_safe(g.student),
                    g.status,
                    f"{g.result.score:g}",
                    f"{g.result.max_score:g}",
                    *(scores.get(i, "") for i in ids),
                ]
            )


def histogram(path: Path, scores: list[float], max_score: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4))
    top = max_score or 1
    # One bar per whole point when points are few (each bar is one score); 20 bars otherwise.
    bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 50 else 20
    ax.hist(scores, bins=bins, range=None if top <= 50 else (0, top), color="tab:blue", edgecolor="white")
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summarize(
    out: Path, lab: LabSpec, graded: list[Graded], seconds: float, jobs: int, max_score: float, notes: list[str]
) -> dict:
    failed = Counter(c.id for g in graded for c in g.result.checks if c.status != "passed")
    scores = [g.result.score for g in graded]
    summary: dict[str, Any] = {
        "lab": lab.folder,
        "lab_version": lab.version,
        "grader_version": GRADER_VERSION,
        "submissions": len(graded),
        "grading_status": dict(Counter(g.status for g in graded)),
        "max_score": max_score,
        "mean_score": round(sum(scores) / len(scores), 3) if scores else 0.0,
        "passed": sum(1 for g in graded if g.result.passed),
        "most_failed": [{"check": k, "failed": n} for k, n in failed.most_common(10)],
        "time_s": round(seconds, 2),
        "jobs": jobs,
        "per_submission_s": {g.student: round(g.seconds, 3) for g in graded},
        "names": notes,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    histogram(out / "histogram.png", scores, max_score, f"{lab.folder}: {len(graded)} submissions")
    lines = [
        f"# Grading summary: {lab.title} ({lab.folder}, v{lab.version})",
        "",
        f"{len(graded)} submissions in {seconds:.1f} s with {jobs} job(s); grader {GRADER_VERSION}.",
        f"Status: {', '.join(f'{k} {v}' for k, v in summary['grading_status'].items())}. "
        f"Mean score {summary['mean_score']:g} of {max_score:g}; {summary['passed']} passed every required check.",
        "",
        *(f"Note: {n}." for n in notes),
        "",
        "| Check | Failed in |",
        "|---|---:|",
        *(f"| `{k}` | {n} |" for k, n in failed.most_common(10)),
        "",
        "![score histogram](histogram.png)",
        "",
    ]
    (out / "summary.md").write_text("\n".join(lines))
    return summary


def grade_all(
    folder: Path,
    lab: LabSpec,
    out: Path,
    *,
    jobs: int = 2,
    static_only: bool = False,
    timeout: float | None = None,
    progress: Callable[[Graded, int, int], None] | None = None,
) -> tuple[list[Graded], dict]:
    subs = submissions(folder)
    if not subs:
        raise ValueError(f"no submissions (folders, .zip, .tar.gz) in {folder}")
    checks = [c for c in lab.checks if not (static_only and c.kind == "live")]
    deadline = timeout or sum(c.timeout for c in checks) + 30
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    graded: list[Graded] = []
    names, notes = identities(subs)
    with tempfile.TemporaryDirectory(prefix="ahl-grade-") as work:
        ledger = Path(work) / "ledger"
        ledger.mkdir()
        workers = [Worker(ledger) for _ in range(jobs)]
        free: queue.Queue[Worker] = queue.Queue()
        for w in workers:
            free.put(w)

        def task(src: Path) -> Graded:
            worker = free.get()
            try:
                return grade_one(src, names[src], lab, Path(work), static_only, deadline, worker)
            finally:
                free.put(worker)

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(task, s) for s in subs]
                for n, fut in enumerate(futures, 1):
                    g = fut.result()
                    write_student(out, g)
                    graded.append(g)
                    if progress:
                        progress(g, n, len(subs))
        finally:
            for w in workers:
                w.stop()
            builds.sweep(ledger, "")  # whatever a killed worker's build left
    write_gradebook(out / "gradebook.csv", lab, graded, static_only)
    possible = sum(c.points for c in checks)
    return graded, summarize(out, lab, graded, time.monotonic() - start, jobs, possible, notes)
