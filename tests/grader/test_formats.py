"""One run, five formats: the Gradescope file validates against its schema, JUnit parses, a failed check
scores 0 everywhere, partial credit comes only from declared sub-points, versions are recorded."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader import formats
from grader.results import LabResult
from grader.spec import REPO_ROOT
from grader.version import GRADER_VERSION
from tests.grader.conftest import grade

SCHEMAS = REPO_ROOT / "grader/schemas"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> LabResult:
    """Lab 00 with one wrong answer (partial credit) and the live checks run (one may skip or fail)."""
    from tests.grader.conftest import copy_lab

    root = copy_lab("00", tmp_path_factory.mktemp("fmt"))
    answers = root / "labs/00-concepts/answers.yaml"
    answers.write_text(answers.read_text().replace("\nq02: b", "\nq02: a"))
    result = grade("00", root, static_only=False)
    result.checks[-1].status = "skipped"  # make sure every format meets a skip as well
    result.checks[-1].score = 0.0
    return result


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def test_gradescope_results_match_the_schema(mixed: LabResult) -> None:
    data = json.loads(formats.gradescope(mixed))
    jsonschema.validate(data, _schema("gradescope-results.schema.json"))
    assert data["score"] == sum(t["score"] for t in data["tests"])
    assert data["extra_data"]["grader_version"] == GRADER_VERSION and data["extra_data"]["lab_version"] == "2"
    quiz = data["tests"][0]
    assert quiz["status"] == "failed" and quiz["score"] == 19 and quiz["max_score"] == 20
    skipped = data["tests"][-1]
    assert skipped["status"] == "failed" and skipped["score"] == 0 and "SKIP" in skipped["output"]


def test_the_gradescope_schema_rejects_what_gradescope_rejects(mixed: LabResult) -> None:
    data = json.loads(formats.gradescope(mixed))
    data["tests"][0]["status"] = "skipped"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema("gradescope-results.schema.json"))


def test_project_json_matches_its_schema_and_round_trips(mixed: LabResult) -> None:
    data = json.loads(formats.project_json(mixed))
    jsonschema.validate(data, _schema("grader-result.schema.json"))
    assert LabResult.from_dict(data).as_dict() == data
    assert data["grader_version"] == GRADER_VERSION and data["lab_version"] == "2"
    assert data["passed"] is False


def test_junit_parses_with_failure_and_skipped(mixed: LabResult) -> None:
    suite = ET.fromstring(formats.junit(mixed).encode())
    assert suite.tag == "testsuite" and suite.get("tests") == str(len(mixed.checks))
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["quiz.answers"].find("failure") is not None
    assert "q02" in (cases["quiz.answers"].find("failure").text or "")
    assert cases[mixed.checks[-1].id].find("skipped") is not None
    assert suite.get("skipped") == "1"


def test_text_and_markdown_show_status_points_and_how_to_fix(mixed: LabResult) -> None:
    text = formats.text(mixed)
    assert "FAIL" in text and "19/20" in text and "q02" in text and "how to fix" in text
    md = formats.markdown(mixed)
    assert "| FAIL | `quiz.answers`" in md and "19/20" in md and GRADER_VERSION in md


def test_a_failed_check_without_subpoints_scores_zero(tmp_path: Path) -> None:
    result = grade("02", tmp_path)  # nothing submitted
    for data in (json.loads(formats.gradescope(result))["tests"], json.loads(formats.project_json(result))["checks"]):
        assert all(t["score"] == 0 for t in data)
