"""Release: solution regions become TODO lines, no solution line survives, and the student edition fails
exactly the checks marked student_fails (static ones here; the live ones need what they require)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import release, spec
from tests.grader.conftest import grade


def test_regions_become_todo_lines_at_their_indentation() -> None:
    text = "a\n    # BEGIN SOLUTION (lab 02): do the thing\n    secret = 1\n    # END SOLUTION\nb\n"
    out, regions = release.strip(text, "f.py")
    assert out == "a\n    # TODO (lab 02): do the thing\nb\n"
    assert regions[0].lines == ["    secret = 1"] and regions[0].lab == "02"


def test_markdown_regions_keep_their_comment_syntax() -> None:
    out, _ = release.strip("<!-- BEGIN SOLUTION (lab 07): pick one -->\nChosen: x\n<!-- END SOLUTION -->\n", "d.md")
    assert out == "<!-- TODO (lab 07): pick one -->\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# BEGIN SOLUTION (lab 01): a\n# BEGIN SOLUTION (lab 01): b\n# END SOLUTION\n", "do not nest"),
        ("# BEGIN SOLUTION (lab 01): a\nx\n", "never closed"),
        ("x\n# END SOLUTION\n", "without a BEGIN"),
        ("# BEGIN SOLUTION: a\n# END SOLUTION\n", "malformed solution marker"),
        ("# BEGIN SOLUTION (lab 01):\nx\n# END SOLUTION\n", "without the TODO text"),
    ],
)
def test_malformed_markers_stop_the_release(text: str, message: str) -> None:
    with pytest.raises(release.ReleaseError, match=message):
        release.strip(text, "f.py")


def test_generic_single_lines_are_not_leaks_but_runs_of_lines_are() -> None:
    region = (
        "# BEGIN SOLUTION (lab 04): x\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n# END SOLUTION\n"
    )
    _, regions = release.strip(region, "deployment.yaml")
    assert not release.survivors(regions, {"other.yaml": "securityContext:\n  privileged: false\n"})
    leaked = release.survivors(
        regions, {"other.yaml": "x: 1\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n"}
    )
    assert [where for _, _, where in leaked] == ["other.yaml"]


def test_a_solution_line_found_elsewhere_in_the_output_fails_the_release() -> None:
    _, regions = release.strip(
        "# BEGIN SOLUTION (lab 02): x\nUSER 10001:10001 # the runtime user\n# END SOLUTION\n", "Dockerfile"
    )
    leaks = release.survivors(
        regions,
        {"README.md": "add USER 10001:10001 # the runtime user\n", "x": "USER 10001:10001 # the runtime user\n"},
    )
    assert [(r.path, where) for r, _, where in leaks] == [("Dockerfile", "x")]


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student"
    result = release.release(out, spec.all_labs())
    assert result.regions, "the reference has no solution regions"
    return out


def test_the_student_edition_has_todo_lines_and_no_solution_regions(edition: Path) -> None:
    texts = {
        str(p.relative_to(edition)): p.read_text(errors="replace")
        for p in edition.rglob("*")
        if p.is_file() and not str(p.relative_to(edition)).startswith(release.VERBATIM)
    }
    markers = [
        f"{rel}: {line}"
        for rel, text in texts.items()
        for line in text.splitlines()
        if release._BEGIN.match(line) or release._END.match(line)
    ]
    assert markers == []
    assert "# TODO (lab 02):" in texts["model_server/Dockerfile"]
    assert not any(rel.startswith("tests/") for rel in texts)
    for lab in spec.all_labs().values():
        for removed in lab.release_remove:
            assert not (edition / "labs" / lab.folder / removed).exists()


@pytest.mark.parametrize("lab", [lab.id for lab in spec.all_labs().values()])
def test_the_student_edition_fails_exactly_the_student_checks(edition: Path, lab: str) -> None:
    spec_ = spec.resolve(lab)
    result = grade(lab, edition)
    expected_fail = {c.id for c in spec_.checks if c.kind == "static" and c.student_fails}
    failed = {c.id for c in result.checks if c.status == "failed"}
    assert failed == expected_fail, {c.id: c.feedback for c in result.checks}


def test_the_student_edition_reveals_no_answer(edition: Path) -> None:
    """Leak check: no answer key, no stored hash of an answer, no reference results, an empty answers file."""
    for lab in spec.all_labs().values():
        for key in lab.grader_keys:
            assert not (edition / "labs" / lab.folder / key).exists(), f"{lab.folder}/{key} ships"
    quiz = yaml.safe_load((edition / "labs/00-concepts/quiz.yaml").read_text())
    assert all(set(q) == {"id", "topic", "question", "choices", "lab"} for q in quiz["questions"])
    assert yaml.safe_load((edition / "labs/00-concepts/answers.yaml").read_text()) is None
    # A digest of a short answer is reversed by trying every letter: none may ship with the labs.
    digests = [
        str(p.relative_to(edition))
        for p in (edition / "labs").rglob("*")
        if p.is_file() and re.search(r"\b[0-9a-f]{64}\b", p.read_text(errors="replace"))
    ]
    assert digests == []


def test_the_quiz_in_the_student_edition_checks_the_form_and_leaves_the_marks_to_the_instructor(
    edition: Path, tmp_path: Path
) -> None:
    """The learner's own `make check LAB=00` (the edition's grader, no key): valid answers are not a pass, and
    not a failure either; a letter that is not a choice fails."""
    work = tmp_path / "work"
    shutil.copytree(edition, work)
    answers = work / "labs/00-concepts/answers.yaml"

    def check() -> tuple[int, dict]:
        proc = subprocess.run(
            [sys.executable, "-m", "grader", "check", "00", "--static-only", "--format", "json"],
            cwd=work, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(work)}, check=False,
        )  # fmt: skip
        return proc.returncode, next(c for c in json.loads(proc.stdout)["checks"] if c["id"] == "quiz.answers")

    answers.write_text("".join(f"q{i:02d}: a\n" for i in range(1, 21)))
    code, quiz = check()
    assert quiz["status"] == "skipped" and "instructor" in quiz["feedback"], quiz
    assert code != 0
    answers.write_text("".join(f"q{i:02d}: {'e' if i == 3 else 'a'}\n" for i in range(1, 21)))
    code, quiz = check()
    assert quiz["status"] == "failed" and quiz["score"] == 0
    assert "q03: 'e' is not one of the choices" in quiz["feedback"]
