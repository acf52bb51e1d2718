"""Configuration: flags beat MODEL_SERVER_* variables, and bad values stop the server with a clear message."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import CliApp

from model_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_then_flags(monkeypatch, models_dir):
    monkeypatch.setenv("MODEL_SERVER_MAX_BATCH_SIZE", "4")
    monkeypatch.setenv("MODEL_SERVER_LOG_FORMAT", "json")
    settings = CliApp.run(Settings, cli_args=["--model-repository", str(models_dir), "--max-batch-size", "16"])
    assert settings.max_batch_size == 16 and settings.log_format == "json"


def test_model_names_list(models_dir):
    assert Settings(model_repository=models_dir, models=" digits, minilm ,").model_names == ["digits", "minilm"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model_server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_invalid_flag_value_fails_fast():
    result = _run("--max-batch-size", "0")
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "max_batch_size" in result.stderr


def test_invalid_env_value_fails_fast():
    result = _run(MODEL_SERVER_GRAPH_OPTIMIZATION="fastest")
    assert result.returncode == 2 and "graph_optimization" in result.stderr


def test_missing_repository_fails_fast(tmp_path):
    result = _run("--model-repository", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "make models" in result.stderr


def test_unknown_model_name_fails_fast(models_dir):
    result = _run("--model-repository", str(models_dir), "--models", "digits,resnet")
    assert result.returncode == 2 and "resnet" in result.stderr and "not found" in result.stderr


def test_help_lists_flags():
    result = _run("--help")
    assert result.returncode == 0
    for flag in ("--max-batch-size", "--max-queue-delay-ms", "--drain-seconds", "--intra-op-threads", "--log-format"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [
        ("--max-request-rows", "0", "max_request_rows"),
        ("--max-text-chars", "-1", "max_text_chars"),
        ("--header-timeout-s", "0", "header_timeout_s"),
        ("--body-timeout-s", "soon", "body_timeout_s"),
    ],
)
def test_new_limits_fail_fast_with_the_setting_named(flag, value, field):
    result = _run(flag, value)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"invalid configuration: {field}:" in result.stderr, result.stderr
