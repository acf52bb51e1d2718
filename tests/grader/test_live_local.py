"""Lab 01's live check as a learner runs it: Python only (no Docker engine, no server image), the grader's own model
server on a loopback port and the learner's client as a bounded process."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import requirements
from tests.grader.conftest import copy_lab, grade

CLIENT = "labs/01-serve/client.py"


@pytest.fixture(autouse=True)
def _no_docker(monkeypatch: pytest.MonkeyPatch, models_dir: Path) -> None:
    """As on a learner's machine in lab 01: Docker and the server image are missing; the models are built."""
    real = requirements.missing
    monkeypatch.setattr(
        requirements, "missing", lambda r: "no Docker engine answers" if r in ("docker", "server-image") else real(r)
    )


def _live(root: Path, own_tree: bool = True):
    return grade("01", root, only=["client.live"], static_only=False, own_tree=own_tree).checks[0]


def test_the_reference_client_passes_without_docker(tmp_path: Path) -> None:
    check = _live(copy_lab("01", tmp_path))
    assert check.status == "passed", check.feedback


def test_a_client_that_only_prints_the_labels_fails(tmp_path: Path) -> None:
    root = copy_lab("01", tmp_path)
    (root / CLIENT).write_text('print("v2 infer   digits: labels [0, 1, 7]")\n')
    check = _live(root)
    assert check.status == "failed" and "the server answered 0 digits inference requests" in check.feedback


def test_a_hanging_client_is_stopped(tmp_path: Path) -> None:
    from grader.checks.client import client_live
    from grader.context import Context
    from grader.spec import resolve
    from grader.verdict import Fail

    root = copy_lab("01", tmp_path)
    # It starts a child too: the deadline ends the client's whole session.
    (root / CLIENT).write_text("import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)\n")
    lab = resolve("01")
    ctx = Context(root=root, lab=lab, check=lab.checks[-1], run_id="localtest", own_tree=True)
    try:
        with pytest.raises(Fail, match="still running after 3 s"):
            client_live(ctx, run_s=3)
    finally:
        for cleanup in reversed(ctx.cleanups):
            cleanup()


def test_someone_elses_tree_never_runs_on_the_host(tmp_path: Path) -> None:
    """`check --path` on another folder (or `grade`): the client runs only in a container; without Docker it is
    skipped, never started here."""
    root = copy_lab("01", tmp_path / "sub")
    marker = tmp_path / "ran-on-the-host"
    (root / CLIENT).write_text(f"open({str(marker)!r}, 'w').write('x')\nprint('labels [0, 1, 7]')\n")
    check = _live(root, own_tree=False)
    assert check.status == "skipped" and "Docker" in check.feedback, check.feedback
    assert not marker.exists()
