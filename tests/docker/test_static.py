"""Static checks of the container files; they need no Docker engine, so they always run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
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
