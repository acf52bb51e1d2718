"""The command line as users run it: exit codes, formats, one-line errors, --help everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from tests.grader.conftest import ROOT, copy_lab


def grader(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("command", [[], ["list"], ["check"], ["grade"], ["release"]])
def test_help_everywhere(command: list[str]) -> None:
    proc = grader(*command, "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout


def test_list_shows_every_lab_and_check() -> None:
    proc = grader("list")
    assert proc.returncode == 0
    for needle in ("00-concepts", "07-optimize", "dockerfile.non_root", "static", "live"):
        assert needle in proc.stdout


def test_check_passes_the_reference_and_exits_zero() -> None:
    proc = grader("check", "02", "--static-only")
    assert proc.returncode == 0, proc.stdout
    assert "02-containerize PASSED" in proc.stdout and "1 live check(s) not run" in proc.stdout


def test_check_exits_one_on_a_failing_submission_with_every_format(tmp_path: Path) -> None:
    root = copy_lab("02", tmp_path / "sub")
    dockerfile = root / "model_server/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER 10001:10001", "USER root"))
    outputs = {}
    for fmt in ("text", "json", "gradescope", "junit", "markdown"):
        out = tmp_path / f"report.{fmt}"
        proc = grader("check", "02", "--path", str(root), "--static-only", "--format", fmt, "--out", str(out))
        assert proc.returncode == 1, proc.stderr
        outputs[fmt] = out.read_text()
    assert "FAIL" in outputs["text"] and "dockerfile.non_root" in outputs["text"] and "how to fix" in outputs["text"]
    assert "USER root runs the server as root" in outputs["markdown"]
    assert json.loads(outputs["json"])["passed"] is False
    assert json.loads(outputs["gradescope"])["tests"][1]["status"] == "failed"
    assert ET.fromstring(outputs["junit"].encode()).get("failures") == "2"  # non_root and hadolint's DL3002
    assert "| FAIL | `dockerfile.non_root`" in outputs["markdown"]


def test_a_skipped_live_check_is_not_a_pass_but_partial_with_its_reason() -> None:
    """Lab 05 without a kind cluster (a name no cluster has: a developer's cluster may be up): the static checks
    and the recording pass, the live one cannot run. Not PASSED (exit 0), not NOT PASSED (exit 1): PARTIAL, exit 3,
    with what could not run and why."""
    no_cluster = {"GRADER_CLUSTER": "no-such-cluster"}
    proc = grader("check", "05", env=no_cluster)
    assert proc.returncode == 3, proc.stdout
    assert "SKIP" in proc.stdout and "provide it with" in proc.stdout
    assert "05-autoscale PARTIAL: 12/14 points" in proc.stdout
    assert "PARTIAL: live checks not run: no cluster" in proc.stdout
    report = json.loads(grader("check", "05", "--format", "json", env=no_cluster).stdout)
    assert report["passed"] is False and report["partial"] is True


def test_a_failure_next_to_a_skip_is_not_partial(tmp_path: Path) -> None:
    root = copy_lab("05", tmp_path / "sub")
    hpa = root / "k8s/base/hpa.yaml"
    hpa.write_text(hpa.read_text().replace("type: Utilization", "type: AverageValue"))
    proc = grader("check", "05", "--path", str(root))
    assert proc.returncode == 1, proc.stdout
    assert "NOT PASSED" in proc.stdout and "PARTIAL" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "99"], "error: unknown lab '99'; known labs: 00-concepts"),
        (["check", "02", "--format", "xml"], "error: --format 'xml': use one of text, json"),
        (["check", "02", "--path", "/nonexistent"], "error: --path /nonexistent: not a folder"),
        (["check", "02", "--only", "nope"], "error: --only: nope not in 02-containerize"),
        (["grade", "/nonexistent", "--lab", "02"], "error: /nonexistent: not a folder"),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: str) -> None:
    proc = grader(*args)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message) and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_release_with_gradescope_bundles(tmp_path: Path) -> None:
    out = tmp_path / "student"
    proc = grader("release", "--out", str(out), "--gradescope")
    assert proc.returncode == 0, proc.stderr
    hidden = tmp_path / "student-instructor" / "hidden-checks.md"
    assert hidden.read_text().startswith("# Hidden checks")
    assert "`compose.replicas` (hidden, 1 pt)" in hidden.read_text()
    assert "`cards.quantized_quality` (after_due_date, 2 pt)" in hidden.read_text()
    bundle = tmp_path / "student-instructor" / "gradescope-02-containerize.zip"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        run = zf.read("run_autograder").decode()
        assert zf.getinfo("run_autograder").external_attr >> 16 == 0o755
    assert {"setup.sh", "run_autograder", "grader/__main__.py", "labs/02-containerize/lab.yaml"} <= names
    assert "check 02 --path /autograder/submission --static-only --format gradescope" in run
    assert "/autograder/results/results.json" in run
    with zipfile.ZipFile(tmp_path / "student-instructor" / "gradescope-00-concepts.zip") as zf:
        assert "labs/00-concepts/key.yaml" in zf.namelist()  # the key the student edition leaves out
    assert not (out / "labs/00-concepts/key.yaml").exists()
    again = grader("release", "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr


def test_the_gradescope_run_script_grades_a_submission(tmp_path: Path) -> None:
    """run_autograder with /autograder mapped to a temporary folder: results.json appears and validates."""
    out = tmp_path / "student"
    assert grader("release", "--out", str(out), "--gradescope").returncode == 0
    auto = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "student-instructor" / "gradescope-03-compose.zip") as zf:
        zf.extractall(auto / "source")
    copy_lab("03", auto / "submission")
    script = (
        (auto / "source/run_autograder")
        .read_text()
        .replace("/autograder/venv/bin/python", sys.executable)
        .replace("/autograder", str(auto))
    )
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((auto / "results/results.json").read_text())
    assert results["score"] == 9 and all(t["status"] == "passed" for t in results["tests"])
