"""Static checks of the container files; they need no Docker engine, so they always run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from grader.release import strip

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ["model_server/Dockerfile", "docker/lb/Dockerfile", "docker/locust/Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_reports_nothing_above_info(run, dockerfile: str) -> None:
    proc = run(str(BIN / "hadolint"), "--failure-threshold", "warning", dockerfile, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_file_matches_the_compose_spec(run) -> None:
    proc = run(
        str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml", check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose v1 is not installed")
def test_compose_v1_accepts_the_file(run) -> None:
    proc = run(
        "docker-compose", "--profile", "loadtest", "--file", "docker-compose.yml", "config", "--quiet", check=False
    )
    assert proc.returncode == 0, proc.stderr


# The student edition (`python -m grader release`) replaces each solution region with a TODO comment:
# the container files must stay well-formed without them (regions hold whole instructions and keys).
@pytest.mark.parametrize(
    "path, lint",
    [
        ("model_server/Dockerfile", ["hadolint", "--failure-threshold", "warning"]),
        ("docker-compose.yml", ["check-jsonschema", "--builtin-schema", "vendor.compose-spec"]),
    ],
)
def test_student_edition_stays_well_formed(run, tmp_path, path: str, lint: list[str]) -> None:
    text = (ROOT / path).read_text()
    student, regions = strip(text, path)
    assert regions and all(r.lab in ("02", "03") for r in regions), "solution regions for labs 02/03 expected"
    copy = tmp_path / Path(path).name
    copy.write_text(student)
    proc = run(str(BIN / lint[0]), *lint[1:], str(copy), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
