"""`scripts/demo.sh` (what `make demo` runs after `make models`): real server, real load (slow)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def demo(*args: str, python: str | None, timeout: float, root: Path = ROOT) -> subprocess.CompletedProcess:
    """`root`/scripts/demo.sh with PYTHON set to `python`, or unset (it then finds the interpreter itself)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    if python:
        env["PYTHON"] = python
    else:  # the interpreter running the tests comes first on PATH, for the python3 fallback
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(root / "scripts" / "demo.sh"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )


def checkout_without_venv(tmp_path: Path) -> Path:
    """The script and the package in a tree with no .venv, as in a clone whose venv lives elsewhere."""
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "demo.sh", root / "scripts" / "demo.sh")
    (root / "loadtest").symlink_to(ROOT / "loadtest")
    return root


def test_demo_script_runs_loads_and_stops_the_server(tmp_path):
    out = tmp_path / "demo"
    proc = demo("--duration", "5", "--out", str(out), python=sys.executable, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo passed" in proc.stdout
    for model in ("digits", "minilm"):
        assert re.search(rf"│ {model} +│ +\d+ │", proc.stdout), proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"digits", "minilm"} and summary["total"]["failures"] == 0
    pid = int(re.search(r"pid (\d+)", proc.stdout).group(1))
    assert not Path(f"/proc/{pid}").exists(), "the demo left its server running"
    assert "server stopped (exit code 0)" in proc.stdout


@pytest.mark.parametrize("python", [sys.executable, None], ids=["PYTHON set", "PYTHON unset"])
def test_demo_without_models_says_what_to_do(tmp_path, python):
    proc = demo(
        "--model-repository", str(tmp_path / "none"), "--out", str(tmp_path / "demo"), python=python, timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "run `make models` first" in proc.stdout
