"""--default-versions: which version answers a request that names none, per model; a wrong one stops the start."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from loadtest.payloads import digits_v2_body
from model_server.config import Settings, parse_default_versions
from model_server.repository import RepositoryError, resolve_default_versions, scan
from tests.model_server.conftest import ready_client

ROOT = Path(__file__).resolve().parents[2]
ROW = [0.0] * 64


@pytest.fixture(scope="module")
def pinned(models_dir: Path) -> Iterator[TestClient]:
    """digits pinned to version 1 (fp32); digits-large unlisted, so its highest version (2) answers."""
    settings = Settings(model_repository=models_dir, models="digits,digits-large", default_versions="digits=1")
    yield from ready_client(settings)


def requests_served(client: TestClient, model: str, version: str) -> float:
    registry = client.app.state.server.metrics.registry
    return registry.get_sample_value("model_server_requests_total", {"model": model, "version": version, "code": "200"})


def test_unversioned_infer_goes_to_the_pinned_version(pinned):
    out = pinned.post("/v2/models/digits/infer", json=digits_v2_body([ROW])).json()
    assert out["model_version"] == "1"


def test_a_named_version_still_answers(pinned):
    out = pinned.post("/v2/models/digits/versions/2/infer", json=digits_v2_body([ROW])).json()
    assert out["model_version"] == "2"


def test_unlisted_model_keeps_the_highest(pinned):
    out = pinned.post("/v2/models/digits-large/infer", json=digits_v2_body([ROW])).json()
    assert out["model_version"] == "2"


def test_metadata_and_readiness_report_the_pinned_version(pinned):
    meta = pinned.get("/v2/models/digits").json()
    assert meta["parameters"]["version"] == "1" and meta["versions"] == ["1", "2"]
    assert pinned.get("/v2/models/digits/ready").json()["version"] == "1"


def test_v1_predict_goes_to_the_pinned_version(pinned):
    before = requests_served(pinned, "digits", "1") or 0.0
    response = pinned.post("/v1/models/digits:predict", json={"instances": [ROW]})
    assert response.status_code == 200, response.text
    assert requests_served(pinned, "digits", "1") == before + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("digits=1", {"digits": "1"}),
        (" digits = 2 , minilm=1,", {"digits": "2", "minilm": "1"}),
    ],
)
def test_parse(text, expected):
    assert parse_default_versions(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [("digits", "is not model=version"), ("digits=", "is not model=version"), ("=1", "is not model=version"),
     ("digits=1,digits=2", "given twice")],
)  # fmt: skip
def test_parse_refuses(text, says):
    with pytest.raises(ValueError, match=says):
        parse_default_versions(text)


def test_resolve_checks_models_and_versions(models_dir):
    cards = scan(models_dir, ["digits", "minilm"])
    assert resolve_default_versions(cards, {}) == {"digits": "2", "minilm": "1"}
    assert resolve_default_versions(cards, {"digits": "1"}) == {"digits": "1", "minilm": "1"}
    with pytest.raises(RepositoryError, match=r"model 'digits' has no version '3' \(available: 1, 2\)"):
        resolve_default_versions(cards, {"digits": "3"})
    with pytest.raises(RepositoryError, match=r"'digits-large', not loaded \(loaded: digits, minilm\)"):
        resolve_default_versions(cards, {"digits-large": "1"})


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model_server", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_unknown_version_stops_the_start_with_one_line(models_dir):
    result = _run("--model-repository", str(models_dir), MODEL_SERVER_DEFAULT_VERSIONS="digits=7")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "model 'digits' has no version '7' (available: 1, 2)" in result.stderr


def test_malformed_setting_stops_the_start_with_one_line():
    result = _run("--default-versions", "digits:1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "invalid configuration: default_versions:" in result.stderr and "is not model=version" in result.stderr
