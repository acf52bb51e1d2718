"""Shared fixtures: the built model repository and real server processes on free loopback ports."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loadtest.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not (MODELS / "minilm" / "1" / "model.json").is_file():
        pytest.fail("the model repository is missing: run `make models` (make test does it for you)")
    return MODELS


@pytest.fixture
def start_server(models_dir: Path, tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start `python -m model_server` with extra flags; every server started is stopped by its PID at the end."""
    started: list[LocalServer] = []

    def start(*args: str) -> LocalServer:
        server = LocalServer(
            models_dir, ["--drain-seconds", "0", *args], log_path=tmp_path / f"server-{len(started)}.log"
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
