"""Lab 03's live stack: a learner's Compose file never reads host files through Compose itself, and its
`image:` names never reach the engine (the grader's own images run, under the grader's own names)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from grader import requirements
from grader.policies.compose import vet
from grader.settings import get_settings
from tests.grader.conftest import ROOT, copy_lab, grade


@pytest.mark.parametrize(
    "compose, problem",
    [
        ({"services": {"lb": {"env_file": "/etc/shadow"}}}, "env_file /etc/shadow"),
        ({"services": {"lb": {"env_file": ["ok.env", "../../x.env"]}}}, "env_file ../../x.env"),
        ({"services": {"lb": {"env_file": [{"path": "/root/.env"}]}}}, "env_file /root/.env"),
        ({"secrets": {"s": {"file": "/etc/shadow"}}, "services": {}}, "secret s reads /etc/shadow"),
        ({"configs": {"c": {"file": "../outside"}}, "services": {}}, "config c reads ../outside"),
        ({"include": ["/srv/other/compose.yml"], "services": {}}, "include"),
        ({"services": {"lb": {"extends": {"file": "/srv/x.yml", "service": "y"}}}}, "extends another file"),
    ],
)
def test_files_outside_the_submission_are_refused(tmp_path: Path, compose: dict, problem: str) -> None:
    problems = vet(compose, tmp_path)
    assert problems and problem in problems[0], problems


def test_files_inside_the_submission_are_fine(tmp_path: Path) -> None:
    assert vet({"services": {"lb": {"env_file": ["lb.env"]}}, "secrets": {"s": {"file": "./s.txt"}}}, tmp_path) == []


@pytest.mark.docker
def test_an_image_name_in_the_file_never_overwrites_or_removes_an_image(docker_engine: None, tmp_path: Path) -> None:
    for need in ("server-image", "base-image", "compose"):
        if requirements.missing(need):
            pytest.skip(f"{need}: {requirements.missing(need)}")
    victim = f"ahl-victim-{uuid.uuid4().hex[:8]}:1"
    subprocess.run(["docker", "tag", get_settings().base_image, victim], check=True)
    try:
        before = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", victim], capture_output=True, text=True)
        root = copy_lab("03", tmp_path)
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        compose["services"]["lb"]["image"] = victim
        (root / "docker-compose.yml").write_text(yaml.safe_dump(compose))
        check = grade("03", root, only=["compose.stack"], static_only=False).checks[0]
        assert check.status == "passed", check.feedback
        after = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", victim], capture_output=True, text=True)
        assert after.returncode == 0 and after.stdout == before.stdout, "the learner's image name reached the engine"
    finally:
        subprocess.run(["docker", "image", "rm", victim], capture_output=True)
