"""`python -m loadtest hpa` as a user runs it: JSON schema, table, files, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadtest.__main__ import app

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "rendered-overlay.yaml"
STEP = "t,rps\n0,20\n60,240\n240,20\n480,20\n"


@pytest.fixture
def step_load(tmp_path: Path) -> Path:
    path = tmp_path / "step.csv"
    path.write_text(STEP)
    return path


def test_json_has_one_entry_per_sync_with_the_documented_keys(loadtest, step_load):
    # A real process, as other tools (the grader, the lab) call it.
    proc = loadtest("hpa", "--hpa", str(FIXTURE), "--capacity-rps", "100", "--load", str(step_load), "--json")
    assert proc.returncode == 0, proc.stderr
    syncs = json.loads(proc.stdout)["syncs"]
    assert [s["t"] for s in syncs] == [15.0 * i for i in range(33)]  # every 15 s up to the last row's t=480
    assert all(set(s) == {"t", "replicas", "ready", "utilization", "desired", "reason"} for s in syncs)
    assert all(isinstance(s["reason"], str) and s["reason"] for s in syncs)
    # The step needs 4 replicas (240 rps at 60% of 100 rps each), then the HPA returns to its minimum of 2.
    assert max(s["replicas"] for s in syncs) == 4 and syncs[-1]["replicas"] == 2
    assert syncs[4] == {**syncs[4], "t": 60.0, "utilization": 120, "desired": 4, "replicas": 4}


def test_table_and_a_sentence_per_decision(step_load):
    result = CliRunner().invoke(app, ["hpa", "--hpa", str(FIXTURE), "--capacity-rps", "100", "--load", str(step_load)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "HPA model-server: 2-6 replicas, CPU target 60%"
    assert any(line.split() == ["60", "240", "120", "4", "2", "4"] for line in lines)
    decisions = [line for line in lines if line.startswith("t=")]
    assert decisions[0].startswith("t=60s: 2 -> 4 replicas. ceil(2 x 120/60) = 4")
    assert decisions[1].startswith("t=285s: 4 -> 2 replicas.")


def test_out_writes_csv_json_and_png(tmp_path, step_load):
    out = tmp_path / "whatif"
    args = ["hpa", "--hpa", str(FIXTURE), "--capacity-rps", "100", "--load", str(step_load), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    with (out / "hpa-whatif.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 33 and rows[4]["replicas"] == "4" and rows[4]["rps"] == "240.0"
    assert json.loads((out / "hpa-whatif.json").read_text()) == json.loads(result.stdout)
    png = (out / "hpa-whatif.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_start_replicas_and_pod_ready_change_the_timeline(step_load):
    args = ["hpa", "--hpa", str(FIXTURE), "--capacity-rps", "100", "--load", str(step_load), "--json"]
    fast = json.loads(CliRunner().invoke(app, [*args, "--pod-ready-s", "0"]).stdout)["syncs"]
    slow = json.loads(CliRunner().invoke(app, [*args, "--pod-ready-s", "60", "--start-replicas", "3"]).stdout)["syncs"]
    assert fast[5]["ready"] == 4  # ready at once, seen at the next sync
    assert slow[0]["replicas"] == 3 and slow[5]["ready"] == 3  # new pods still starting 15 s after the step


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--capacity-rps", "nan"], "error: Invalid value for '--capacity-rps': nan is not a finite number"),
        (["--capacity-rps", "0"], "error: Invalid value for '--capacity-rps': 0 is not between 0.001 and 1e+06"),
        (
            ["--start-replicas", "0"],
            "error: Invalid value for '--start-replicas': Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_flags_give_one_line(step_load, extra, message):
    args = ["hpa", "--hpa", str(FIXTURE), "--capacity-rps", "100", "--load", str(step_load)]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_a_file_without_an_hpa_gives_one_line(tmp_path, step_load):
    other = tmp_path / "svc.yaml"
    other.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
    result = CliRunner().invoke(app, ["hpa", "--hpa", str(other), "--capacity-rps", "100", "--load", str(step_load)])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no HorizontalPodAutoscaler in the file"
