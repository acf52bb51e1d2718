"""The lessons against what a learner's workspace (`make student`, the student edition) really prints: the
walkthrough of issue 17 found lab 00 promising output that only the reference gives."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = f"VENV={ROOT / '.venv'}"  # the repository's virtualenv: the workspace needs no `make setup` of its own


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("student") / "work"
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "release", "--out", str(dest), "--instructor-out", str(dest.parent / "i")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return dest


def make(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", *args, VENV], cwd=workspace, capture_output=True, text=True, timeout=120)


def failing(doctor_output: str) -> set[str]:
    return set(re.findall(r"^FAIL\s+([^:]+):", doctor_output, re.MULTILINE))


def test_lab_00_step_2_says_what_doctor_fails_in_a_fresh_workspace(workspace):
    """Doctor checks the manifests too, which are lab 04's TODOs in the student edition: step 2 must tell the learner
    that those lines fail until lab 04 (what fails on the reference too is the machine's, not the workspace's)."""
    only_here = failing(make(workspace, "doctor").stdout) - failing(make(ROOT, "doctor").stdout)
    assert only_here, "doctor fails nothing in a fresh workspace: step 2's note is no longer needed"
    step2 = (ROOT / "labs/00-concepts/README.md").read_text().split("\n2. ", 1)[1].split("\n3. ", 1)[0]
    note = " ".join(line.strip() for line in step2[step2.find("student edition") :].splitlines())
    assert "student edition" in step2 and "lab 04" in note, "step 2 does not say what fails in the learner's copy"
    for name in only_here:
        assert f"`{name.split()[0]}` lines read `FAIL`" in note, f"step 2 does not announce `FAIL {name}`"


def test_make_check_partial_is_an_error_3_under_make_as_the_lessons_say(workspace):
    """The grader exits 3 for PARTIAL, but make exits 2 for any failing recipe: a learner's `echo $?` after
    `make check` shows 2, and the lessons must say what make does show (`Error 3`)."""
    answers = workspace / "labs/00-concepts/answers.yaml"
    answers.write_text(answers.read_text() + "".join(f"q{i:02d}: a\n" for i in range(1, 21)))
    proc = make(workspace, "check", "LAB=00")
    assert "PARTIAL" in proc.stdout, proc.stdout[-2000:]
    assert proc.returncode == 2 and "Error 3" in proc.stderr, (proc.returncode, proc.stderr[-500:])
    for readme in sorted((ROOT / "labs").glob("*/README.md")):
        for line in re.findall(r"^.*exit code 3.*$", readme.read_text(), re.MULTILINE):
            assert "`Error 3`" in line, f"{readme.relative_to(ROOT)}: says exit code 3 without make's `Error 3`"
