"""`scripts/demo.sh` (what `make demo` runs after `make models`): real server, real load (slow)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_demo_script_runs_loads_and_stops_the_server(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "demo.sh"), "--duration", "5", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo passed" in proc.stdout
    for model in ("digits", "minilm"):
        assert re.search(rf"│ {model} +│ +\d+ │", proc.stdout), proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"digits", "minilm"} and summary["total"]["failures"] == 0
    pid = int(re.search(r"pid (\d+)", proc.stdout).group(1))
    assert not Path(f"/proc/{pid}").exists(), "the demo left its server running"
    assert "server stopped (exit code 0)" in proc.stdout


def test_demo_without_models_says_what_to_do(tmp_path):
    proc = subprocess.run(
        [
            str(ROOT / "scripts" / "demo.sh"),
            "--model-repository",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "demo"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "run `make models` first" in proc.stdout
