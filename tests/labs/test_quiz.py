"""Lab 00's quiz: enough questions, every topic of the course, hashes that match the reference answers."""

import hashlib
import re
from pathlib import Path

import yaml

from grader.release import strip

LABS = Path(__file__).resolve().parents[2] / "labs"
QUIZ = LABS / "00-concepts" / "quiz.yaml"
ANSWERS = LABS / "00-concepts" / "answers.yaml"
TOPICS = {"containerization", "scaling", "orchestration", "model-optimization", "performance-metrics", "trade-offs"}


def questions() -> list[dict]:
    return yaml.safe_load(QUIZ.read_text())["questions"]


def test_quiz_has_at_least_twelve_well_formed_questions_covering_every_topic():
    qs = questions()
    assert len(qs) >= 12
    ids = [q["id"] for q in qs]
    assert ids == [f"q{i:02d}" for i in range(1, len(qs) + 1)]
    lab_folders = {p.name[:2] for p in LABS.iterdir() if p.is_dir()}
    for q in qs:
        assert q["topic"] in TOPICS, q["id"]
        assert sorted(q["choices"]) == ["a", "b", "c", "d"], q["id"]
        assert re.fullmatch(r"[0-9a-f]{64}", q["check"]), q["id"]
        assert "answer" not in q, f"{q['id']} ships a plain answer"
        assert q["lab"] in lab_folders, q["id"]
        assert f"lab {q['lab']}" in q["explanation"].lower(), f"{q['id']}: the explanation does not name its lab"
    assert {q["topic"] for q in qs} == TOPICS


def test_every_check_hash_matches_the_reference_answer():
    answers = yaml.safe_load(ANSWERS.read_text())
    qs = questions()
    assert set(answers) == {q["id"] for q in qs}
    for q in qs:
        assert hashlib.sha256(f"{q['id']}:{answers[q['id']]}".encode()).hexdigest() == q["check"], q["id"]
    # Every letter is used: the key is not "always b".
    assert set(answers.values()) == {"a", "b", "c", "d"}


def test_released_answers_file_is_valid_yaml_with_the_todo_and_no_answer():
    text, regions = strip(ANSWERS.read_text(), str(ANSWERS))
    assert len(regions) == 1
    assert "# TODO (lab 00):" in text
    assert yaml.safe_load(text) is None  # comments only: every question unanswered
    assert not re.search(r"^q\d\d:", text, re.MULTILINE)
