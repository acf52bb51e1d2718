"""The lab registry: every lab.yaml loads, defects give one-line errors, LAB resolves in every spelling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader import catalog, spec

LAB_FOLDERS = [
    "00-concepts", "01-serve", "02-containerize", "03-compose",
    "04-kubernetes", "05-autoscale", "06-measure", "07-optimize",
]  # fmt: skip


def test_every_lab_has_a_valid_lab_yaml() -> None:
    labs = spec.all_labs()
    assert [lab.folder for lab in labs.values()] == LAB_FOLDERS
    for lab in labs.values():
        assert all(c.function_name in catalog.names() for c in lab.checks)
        assert lab.max_points > 0


def test_quiz_subpoints_match_the_questions() -> None:
    quiz = yaml.safe_load((spec.REPO_ROOT / "labs/00-concepts/quiz.yaml").read_text())
    check = next(c for c in spec.resolve("00").checks if c.id == "quiz.answers")
    assert [s.id for s in check.subpoints] == [q["id"] for q in quiz["questions"]]


@pytest.mark.parametrize("given", ["02", "2", "02-containerize", "labs/02-containerize/"])
def test_lab_argument_spellings(given: str) -> None:
    assert spec.resolve(given).folder == "02-containerize"


def test_unknown_lab_lists_the_known_ones() -> None:
    with pytest.raises(spec.SpecError, match=r"unknown lab '99'; known labs: 00-concepts, .*07-optimize"):
        spec.resolve("99")


def _write(tmp_path: Path, body: dict) -> Path:
    folder = tmp_path / "09-broken"
    folder.mkdir()
    path = folder / "lab.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


GOOD_CHECK = {
    "id": "x.y",
    "title": "t",
    "points": 1,
    "kind": "static",
    "hint": "h",
    "student_fails": False,
    "function": "quiz.answers",
}
GOOD_LAB = {"id": "09", "slug": "broken", "title": "t", "version": "1", "checks": [GOOD_CHECK]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"checks": [{**GOOD_CHECK, "points": -1}]}, r"checks\.0\.points: Input should be greater than or equal to 0"),
        ({"checks": [{**GOOD_CHECK, "visibility": "secret"}]}, r"checks\.0\.visibility: Input should be 'visible'"),
        ({"checks": [GOOD_CHECK, GOOD_CHECK]}, r"duplicate check ids: x\.y"),
        ({"checks": [{**GOOD_CHECK, "function": "no.such"}]}, r"no check function registered as no\.such"),
        ({"checks": [{**GOOD_CHECK, "requires": ["docker"]}]}, r"static check x\.y cannot require"),
        (
            {"checks": [{**GOOD_CHECK, "subpoints": [{"id": "a", "title": "a", "points": 2}]}]},
            r"subpoints of x\.y add up to 2, not 1",
        ),
        ({"colour": "red"}, r"colour: Extra inputs are not permitted"),
    ],
)
def test_defects_in_lab_yaml_give_one_line_errors(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**GOOD_LAB, **change})
    with pytest.raises(spec.SpecError, match=message) as info:
        spec.load_lab(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "09-broken"
    folder.mkdir()
    (folder / "lab.yaml").write_text("id: '09'\nchecks: [\n  - x: : y\n")
    with pytest.raises(spec.SpecError, match=r"not valid YAML \(line \d+\)"):
        spec.load_lab(folder / "lab.yaml")


# What each lab has taught and installed by its end: its required checks may need nothing more.
TAUGHT = {"00": {"python"}, "01": {"python", "models"}}


@pytest.mark.parametrize("lab", sorted(TAUGHT))
def test_a_labs_required_checks_need_only_what_it_taught(lab: str) -> None:
    """Labs 00 and 01 are Python only: their checkpoints must pass without Docker, Compose, kind or kubectl (they
    come later, as optional checks), and lab 01's live check without the server image lab 02 builds."""
    for c in spec.resolve(lab).checks:
        if c.required:
            needs = set(c.requires) | set(c.args.get("tools", []))
            assert needs <= TAUGHT[lab], f"{c.id} needs {sorted(needs - TAUGHT[lab])}"
