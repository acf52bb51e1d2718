"""Load-test fixtures: one real model server for the session, and the CLI run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def model_server(models_dir: Path, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with LocalServer(models_dir, ["--models", "digits,minilm", "--drain-seconds", "0"], log_path=log) as server:
        yield server


@pytest.fixture
def loadtest():
    """Runs `python -m loadtest ...` in a separate process: Locust's gevent patching stays out of pytest."""

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "loadtest", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )

    return run
