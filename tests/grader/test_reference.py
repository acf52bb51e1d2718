"""Every static check passes on the reference solution. Labs 06 and 07 grade measured results: when the
repository has none committed, they are produced here with the real tools (short runs), never invented."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import spec
from tests.grader.conftest import ROOT, copy_lab, grade

MEASURED = {"06": "labs/06-measure/results/summary.json", "07": "labs/07-optimize/results/tradeoffs.csv"}


@pytest.mark.parametrize("lab", [lab.id for lab in spec.all_labs().values() if lab.id not in MEASURED])
def test_the_reference_passes_every_static_check(lab: str) -> None:
    result = grade(lab, ROOT)
    assert result.passed, {c.id: c.feedback for c in result.checks if c.status != "passed"}
    assert result.score == result.max_score


def _run(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_lab_06_reference_results_pass(start_server, tmp_path: Path) -> None:
    if (ROOT / MEASURED["06"]).exists():
        root = ROOT
    else:
        root = copy_lab("06", tmp_path)
        server = start_server()
        lab = root / "labs/06-measure"
        _run(
            "run",
            "--host",
            server.url,
            "--users",
            "2",
            "--duration",
            "4",
            "--slo",
            str(lab / "slo.yaml"),
            "--out",
            str(lab / "results"),
        )
    result = grade("06", root)
    assert result.passed, {c.id: c.feedback for c in result.checks if c.status != "passed"}


def _decision_for(table: Path) -> str:
    """What a learner writes: the cheapest configuration that met the SLO and is on the Pareto front."""
    rows = [r for r in csv.DictReader(table.open()) if r["slo"] == "met" and r["pareto"] == "yes"]
    best = min(rows, key=lambda r: float(r["usd_per_million"]))
    cost = best["usd_per_million"]
    return f"# Decision\n\nChosen configuration: `{best['config']}`\n\nCost: ${cost} per million requests.\n"


@pytest.mark.slow
def test_lab_07_reference_decision_passes(models_dir: Path, tmp_path: Path) -> None:
    if (ROOT / MEASURED["07"]).exists() and (ROOT / "labs/07-optimize/decision.md").exists():
        root = ROOT
    else:
        root = copy_lab("07", tmp_path)
        results = root / "labs/07-optimize/results"
        if (ROOT / MEASURED["07"]).exists():
            shutil.copytree(ROOT / "labs/07-optimize/results", results, dirs_exist_ok=True)
        else:
            _run(
                "tradeoffs",
                "--only",
                "digits-fp32,digits-int8",
                "--duration",
                "2",
                "--model-repository",
                str(models_dir),
                "--out",
                str(results),
            )
        decision = root / "labs/07-optimize/decision.md"
        if not decision.exists():
            decision.write_text(_decision_for(results / "tradeoffs.csv"))
    result = grade("07", root)
    assert result.passed, {c.id: c.feedback for c in result.checks if c.status != "passed"}
