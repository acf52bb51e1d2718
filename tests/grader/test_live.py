"""Live checks against the real Docker engine: in batch grading the learner's client runs in a container on a
private network (`check` runs it as a local process: tests/grader/test_live_local.py), a hanging client is
stopped, and a batch with live checks grades a correct and a broken submission."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from grader import requirements, spec
from grader.checks.client import client_live
from grader.context import Context
from grader.verdict import Fail
from tests.grader.conftest import ROOT, copy_lab, grade

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def _server_image(server_image: str) -> None:
    """The live checks run next to the server image under the grader's tag, built by this session."""
    assert requirements.missing("server-image") is None
    assert requirements.missing("base-image") is None


def _leftovers(run_id: str) -> list[str]:
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    nets = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True).stdout
    return [n for n in (names + nets).split() if n.startswith(f"ahl-grader-{run_id}")]


def test_the_reference_client_passes_live() -> None:
    result = grade("01", ROOT, only=["client.live"], static_only=False)
    assert result.checks[0].status == "passed", result.checks[0].feedback


def test_the_reference_compose_stack_passes_live_and_leaves_nothing() -> None:
    result = grade("03", ROOT, only=["compose.stack"], static_only=False)
    check = result.checks[0]
    assert check.status == "passed", check.feedback
    assert "0 errors, 2 replicas" in check.feedback
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    assert "ahlgrader" not in names


def test_a_hanging_client_is_stopped_and_cleaned_up(tmp_path: Path) -> None:
    root = copy_lab("01", tmp_path)
    (root / "labs/01-serve/client.py").write_text("while True:\n    pass\n")
    lab = spec.resolve("01")
    ctx = Context(root=root, lab=lab, check=lab.checks[-1], run_id="livetest")
    try:
        with pytest.raises(Fail, match="still running after 5 s"):
            client_live(ctx, run_s=5)
    finally:
        for cleanup in reversed(ctx.cleanups):
            cleanup()
    assert _leftovers("livetest") == []


def test_a_batch_with_live_checks(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    copy_lab("01", subs / "good")
    bad = copy_lab("01", subs / "wrong-route")
    client = bad / "labs/01-serve/client.py"
    client.write_text(client.read_text().replace('/infer"', '/predict"'))
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(subs), "--lab", "01", "--out", str(tmp_path / "grades")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "grades/gradebook.csv").open() as fh:
        book = {r["student"]: r for r in csv.DictReader(fh)}
    assert book["good"]["score"] == "10" and book["good"]["client.live"] == "5"
    assert book["wrong-route"]["client.live"] == "0" and book["wrong-route"]["grading_status"] == "ok"


def test_the_student_edition_client_fails_live(tmp_path: Path) -> None:
    from grader import release

    edition = tmp_path / "student"
    release.release(edition, spec.all_labs())
    check = grade("01", edition, only=["client.live"], static_only=False).checks[0]
    assert check.status == "failed" and "labels" in check.feedback


def test_a_rolling_restart_fails_no_request_with_the_reference_lb() -> None:
    check = grade("03", ROOT, only=["compose.rolling_restart"], static_only=False).checks[0]
    assert check.status == "passed", check.feedback
    assert "2 replicas restarted under load" in check.feedback and ", 0 failed" in check.feedback


def test_a_rolling_restart_with_the_hint_only_upstream_fails(tmp_path: Path) -> None:
    """Step 1's hint alone (least_conn, a shared zone, keepalive): nginx keeps the restarted replica marked down
    for its default fail_timeout of 10 s while the next one drains, and answers 502 itself."""
    root = copy_lab("03", tmp_path)
    conf = root / "docker/lb/nginx.conf"
    text = conf.read_text()
    assert "server model-server:8000 max_fails=1 fail_timeout=2s;" in text
    conf.write_text(text.replace("server model-server:8000 max_fails=1 fail_timeout=2s;", "server model-server:8000;"))
    # The 502s come only when a replica is healthy again sooner than nginx's 10 s fail_timeout; a machine loaded by
    # other jobs can slow a restart past it, so up to three rolling restarts: one must show the failures.
    feedback = []
    for _ in range(3):
        check = grade("03", root, only=["compose.rolling_restart"], static_only=False).checks[0]
        feedback.append(check.feedback)
        if check.status == "failed":
            break
    assert check.status == "failed", feedback
    assert "requests failed while the replicas restarted" in check.feedback and "fail_timeout=2s" in check.feedback
