"""The runner's verdict rules: a hung check is `timeout` (and its cleanups run), a crash is `error` with a
one-line reason, a missing requirement is `skipped` with the command that provides it, and none of them
passes; partial credit only from sub-points."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from grader import catalog, requirements, runner
from grader.context import Context
from grader.spec import CheckSpec, LabSpec
from grader.verdict import Verdict

cleaned = threading.Event()


@catalog.register("test.hangs")
def _hangs(ctx: Context) -> Verdict:
    ctx.cleanups.append(cleaned.set)
    time.sleep(30)
    return Verdict()


@catalog.register("test.crashes")
def _crashes(ctx: Context) -> Verdict:
    return Verdict(problems=[{}["missing"]])


@catalog.register("test.parts")
def _parts(ctx: Context) -> Verdict:
    return Verdict(parts={"a": [], "b": ["b is wrong"]})


@catalog.register("test.echoes")
def _echoes(ctx: Context) -> Verdict:
    """Feedback that quotes what a learner wrote (a build log, a YAML error), terminal codes included."""
    return Verdict(problems=["RUN printf '\x1b]0;pwned\x07\x1b[2J\u202e'\nline two\tok"])


def _run(function: str, **extra) -> runner.CheckResult:
    check = CheckSpec(
        id="t.x",
        title="t",
        points=4,
        kind="live" if extra.get("requires") else "static",
        hint="fix it",
        student_fails=False,
        function=function,
        **extra,
    )
    lab = LabSpec(id="09", slug="t", title="t", version="1", checks=[check])
    return runner.run_check(check, lab, Path("."), "unit")


def test_a_hung_check_times_out_and_its_cleanups_run() -> None:
    start = time.monotonic()
    result = _run("test.hangs", timeout=0.5)
    assert result.status == "timeout" and result.score == 0
    assert time.monotonic() - start < 5 and cleaned.is_set()
    assert "did not finish within 0.5 s" in result.feedback


def test_a_crashed_check_is_an_error_with_a_one_line_reason() -> None:
    result = _run("test.crashes")
    assert result.status == "error" and result.score == 0
    assert result.feedback == "the check crashed: KeyError: 'missing'"


def test_a_missing_requirement_is_a_skip_with_the_providing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "missing", lambda r: "kind is not installed")
    result = _run("test.parts", requires=["kind"])
    assert result.status == "skipped" and result.score == 0
    assert result.provide == requirements.PROVIDES["kind"]


def test_partial_credit_comes_only_from_subpoints() -> None:
    result = _run(
        "test.parts", subpoints=[{"id": "a", "title": "a", "points": 1}, {"id": "b", "title": "b", "points": 3}]
    )
    assert result.status == "failed" and result.score == 1
    assert "b: b is wrong" in result.feedback
    without = _run("test.parts")
    assert without.status == "failed" and without.score == 0


def test_feedback_carries_no_terminal_codes() -> None:
    """An instructor who `cat`s a feedback.md never runs a learner's escape sequence."""
    result = _run("test.echoes")
    assert not any(not c.isprintable() and c not in "\n\t" for c in result.feedback)
    assert "\\x1b]0;pwned\\x07" in result.feedback and "line two\tok" in result.feedback
