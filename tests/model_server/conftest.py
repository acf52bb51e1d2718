"""An in-process app (FastAPI TestClient) over the real model repository."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_digits

from loadtest.preflight import poll
from model_server.app import create_app
from model_server.config import Settings


def ready_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        ready = poll(lambda: client.get("/v2/health/ready").status_code == 200 or None, 60, interval=0.05)
        assert ready, "models did not load within 60 s"
        yield client


@pytest.fixture(scope="module")
def client(models_dir: Path) -> Iterator[TestClient]:
    yield from ready_client(Settings(model_repository=models_dir, models="digits,minilm", max_body_bytes=64 * 1024))


@pytest.fixture(scope="session")
def digits_rows() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y
