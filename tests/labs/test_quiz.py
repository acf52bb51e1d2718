"""Lab 00's quiz: enough questions, every topic of the course, a key that matches the reference answers and that a
learner cannot read off the questions (no hashes, no explanations, no "the longest option", no letter pattern)."""

import re
from collections import Counter
from pathlib import Path

import yaml

from grader.release import strip

LABS = Path(__file__).resolve().parents[2] / "labs"
QUIZ = LABS / "00-concepts" / "quiz.yaml"
KEY = LABS / "00-concepts" / "key.yaml"
ANSWERS = LABS / "00-concepts" / "answers.yaml"
TOPICS = {"containerization", "scaling", "orchestration", "model-optimization", "performance-metrics", "trade-offs"}


def questions() -> list[dict]:
    return yaml.safe_load(QUIZ.read_text())["questions"]


def key() -> dict[str, dict]:
    return yaml.safe_load(KEY.read_text())


def test_quiz_has_at_least_twelve_well_formed_questions_covering_every_topic():
    qs = questions()
    assert len(qs) >= 12
    ids = [q["id"] for q in qs]
    assert ids == [f"q{i:02d}" for i in range(1, len(qs) + 1)]
    lab_folders = {p.name[:2] for p in LABS.iterdir() if p.is_dir()}
    for q in qs:
        assert set(q) == {"id", "topic", "question", "choices", "lab"}, f"{q['id']} carries more than the question"
        assert q["topic"] in TOPICS, q["id"]
        assert sorted(q["choices"]) == ["a", "b", "c", "d"], q["id"]
        assert q["lab"] in lab_folders, q["id"]
    assert {q["topic"] for q in qs} == TOPICS


def test_the_key_matches_the_reference_answers_and_explains_each_with_its_lab():
    answers = yaml.safe_load(ANSWERS.read_text())
    solutions = key()
    assert set(answers) == set(solutions) == {q["id"] for q in questions()}
    for q in questions():
        solution = solutions[q["id"]]
        assert answers[q["id"]] == solution["answer"], q["id"]
        assert f"lab {q['lab']}" in solution["explanation"].lower(), f"{q['id']}: the explanation does not name its lab"


def test_the_answer_cannot_be_guessed_from_the_choices():
    solutions = key()
    letters = [solutions[q["id"]]["answer"] for q in questions()]
    # Each letter about as often as chance says (5 of 20), and no repeating cycle of letters.
    assert all(3 <= n <= 7 for n in Counter(letters).values()) and len(set(letters)) == 4, Counter(letters)
    for period in (2, 3, 4, 5):
        repeats = sum(letters[i] == letters[i + period] for i in range(len(letters) - period))
        assert repeats <= len(letters) // 2, f"answers repeat with period {period}: {''.join(letters)}"
    # The right answer is not the tell-tale longest option (chance: 1 in 4).
    longest = [
        q["id"]
        for q in questions()
        if max(q["choices"], key=lambda c: len(q["choices"][c])) == solutions[q["id"]]["answer"]
    ]
    assert len(longest) <= len(letters) // 4, f"the right answer is the longest choice in {longest}"


def test_released_answers_file_is_valid_yaml_with_the_todo_and_no_answer():
    text, regions = strip(ANSWERS.read_text(), str(ANSWERS))
    assert len(regions) == 1
    assert "# TODO (lab 00):" in text
    assert yaml.safe_load(text) is None  # comments only: every question unanswered
    assert not re.search(r"^q\d\d:", text, re.MULTILINE)
