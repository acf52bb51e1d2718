"""The lab scripts: argument errors, lab 05's prediction (the grader's parameters, regenerated output), the
predicted-against-observed plot."""

import importlib.util
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.checks import hpa as hpa_prediction
from grader.spec import resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("arg", ["9", "x", "08-nope"])
def test_lab_sh_refuses_an_unknown_lab_with_one_line(arg):
    proc = subprocess.run(["scripts/lab.sh", arg], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("lab: LAB must be a lab number 00-07"), proc.stderr


def predict_args() -> list[str]:
    """The what-if arguments of scripts/lab-predict.sh, as the learner's step 2 runs them."""
    text = (ROOT / "scripts" / "lab-predict.sh").read_text()
    block = re.search(r"args=\((.*?)\)", text, re.DOTALL)
    assert block, "scripts/lab-predict.sh has no args=(...) array"
    return block[1].split()


def test_prediction_uses_the_grader_parameters():
    args = dict(zip(predict_args()[::2], predict_args()[1::2], strict=True))
    defaults = {k: p.default for k, p in inspect.signature(hpa_prediction.prediction).parameters.items()}
    check = next(c for c in resolve("05").checks if c.id == "hpa.prediction")
    expected = {**defaults, **check.args}
    assert float(args["--capacity-rps"]) == expected["capacity_rps"]
    assert int(args["--start-replicas"]) == expected["start_replicas"]
    assert float(args["--pod-ready-s"]) == expected["pod_ready_s"]
    assert float(args["--metrics-lag-s"]) == expected["metrics_lag_s"]
    assert args["--hpa"] == expected["hpa"] and args["--load"] == expected["load"]


def test_committed_prediction_is_the_tools_output_for_the_reference_hpa():
    cmd = [sys.executable, "-m", "loadtest", "hpa", *predict_args(), "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    committed = json.loads((ROOT / "labs" / "05-autoscale" / "prediction.json").read_text())
    assert committed == json.loads(proc.stdout), "run scripts/lab-predict.sh after changing k8s/base/hpa.yaml"
    assert max(s["replicas"] for s in committed["syncs"]) >= 3


def test_compare_plots_prediction_against_an_observed_watch(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("lab05_compare", ROOT / "labs" / "05-autoscale" / "compare.py")
    assert spec and spec.loader
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    observed = tmp_path / "hpa.csv"
    replicas = [2] * 14 + [4] * 3 + [6] * 40 + [3] * 6 + [2] * 10
    rows = ["time,replicas,desired,current,ready,cpu_utilization"]
    rows += [f"{1795550000 + 5 * i},{r},{r},{r},{r},50" for i, r in enumerate(replicas)]
    observed.write_text("\n".join(rows) + "\n")
    out = tmp_path / "compare.png"
    prediction = ROOT / "labs" / "05-autoscale" / "prediction.json"
    assert compare.main(["--prediction", str(prediction), "--observed", str(observed), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "observed : 2 -> peak 6 replicas at 85 s, back to 2 at 315 s" in printed
    assert "the cluster did what the tool predicted" in printed and "differs:" not in printed
    early = [2] * 14 + [4] * 3 + [6] * 36 + [3] * 10 + [2] * 10  # scales down at 265 s: inside the 60 s window
    observed.write_text("\n".join(rows[:1] + [f"{1795550000 + 5 * i},{r},{r},{r},{r},50" for i, r in enumerate(early)]))
    assert compare.main(["--prediction", str(prediction), "--observed", str(observed), "--out", str(out)]) == 0
    assert "differs: scaled down at 265 s, before the 60 s stabilization window" in capsys.readouterr().out
    empty = tmp_path / "empty.csv"
    empty.write_text(rows[0] + "\n")
    assert compare.main(["--observed", str(empty), "--prediction", str(prediction), "--out", str(out)]) == 1
    assert "no rows" in capsys.readouterr().err


def test_make_student_writes_a_workspace_without_answers(tmp_path: Path) -> None:
    dest = tmp_path / "work"
    proc = subprocess.run(
        ["scripts/student.sh", sys.executable, str(dest)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert f"your workspace is {dest}" in proc.stdout and "instructor" not in proc.stdout
    log = subprocess.run(["git", "-C", str(dest), "log", "--format=%s"], capture_output=True, text=True, check=True)
    assert log.stdout.splitlines() == ["Student edition: the starting point"]
    clean = subprocess.run(["git", "-C", str(dest), "status", "--porcelain"], capture_output=True, text=True)
    assert clean.stdout == ""
    assert not (dest / "labs/00-concepts/key.yaml").exists()
    assert "# TODO (lab 01):" in (dest / "labs/01-serve/client.py").read_text()


def test_make_student_without_a_destination_says_how_in_one_line() -> None:
    proc = subprocess.run(["scripts/student.sh", sys.executable], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "student: say where your workspace goes, e.g. make student DEST=$HOME/ai-hosting-labs-work"
    )
