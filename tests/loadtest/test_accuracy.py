"""`python -m loadtest accuracy`: the held-out data through a real server on a free loopback port scores what the
model cards claim, per version; an unreachable server or an unknown model is a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.studies import accuracy

pytestmark = pytest.mark.slow


def _card(models_dir: Path, model: str, version: str) -> dict:
    return json.loads((models_dir / model / version / "model.json").read_text())


def test_served_quality_matches_each_versions_card(start_server, models_dir: Path, tmp_path: Path) -> None:
    server = start_server("--models", "digits,minilm")
    out = tmp_path / "acc.json"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "accuracy", "--host", server.url, "--model", "digits", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r["version"]: r for r in json.loads(out.read_text())["versions"]}
    assert set(rows) == {"1", "2"}
    for version, row in rows.items():
        card = _card(models_dir, "digits", version)
        assert row["precision"] == card["precision"] and row["rows"] == card["metrics"]["held_out_rows"]
        assert row["value"] == pytest.approx(card["metrics"]["accuracy"], abs=0.005)
        assert row["requests"] == 9  # 450 rows, 50 per request
    (text,) = accuracy.measure(server.url, "minilm", None, 50, {})
    assert text["value"] == pytest.approx(
        _card(models_dir, "minilm", "1")["metrics"]["paraphrase_cosine_margin"], abs=0.01
    )


def test_an_unreachable_server_and_an_unknown_model_are_one_line_errors(start_server, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "loadtest", "accuracy", "--out", str(tmp_path / "a.json"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    unreachable = run("--host", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().startswith("error: cannot reach http://127.0.0.1:9/v2/models/digits")
    unknown = run("--host", "http://127.0.0.1:9", "--model", "resnet")
    assert unknown.returncode == 2 and "choose digits, digits-large or minilm" in unknown.stderr
    server = start_server("--models", "digits")
    missing = run("--host", server.url, "--versions", "7")
    assert missing.returncode == 1 and "answered 404" in missing.stderr
    assert "Traceback" not in unreachable.stderr + unknown.stderr + missing.stderr
