"""`python -m loadtest bench-peers`: ratios measured side by side, the servers' rotation, Triton-shaped loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadtest import payloads, preflight, validation
from loadtest.studies.bench_peers import _server, rotated, summarize
from loadtest.studies.bench_server import Bench


def _trial(repeat: int, rps: float, p99: float) -> dict:
    return {
        "repeat": repeat,
        "rps": rps,
        "p50_ms": p99 / 2,
        "p99_ms": p99,
        "p99_over_p50": 2.0,
        "cpu_share": 1.0,
        "loadgen_cpu_share": 0.3,
        "rows_per_cpu_s": rps,
        "failures": 0,
    }


def test_ratios_pair_each_repeat_with_ours_from_the_same_repeat():
    # Repeat 1 ran on a busier machine: every server slowed down, the ratio did not.
    raws = [{"rows_per_s": r, "rows_per_cpu_s": 400.0} for r in (400.0, 200.0, 400.0)]
    trials = {
        "ours": [_trial(0, 300, 100), _trial(1, 150, 200), _trial(2, 280, 100)],
        "pytriton": [_trial(0, 250, 200), _trial(1, 125, 400), _trial(2, 280, 150)],
    }
    result = summarize(raws, trials)
    assert result["servers"]["ours"]["rps"] == 280 and result["servers"]["pytriton"]["rps"] == 250
    assert result["servers"]["ours"]["over_raw"] == pytest.approx(0.75)  # median of 300/400, 150/200, 280/400
    assert result["servers"]["ours"]["over_raw_per_cpu_s"] == pytest.approx(0.70)  # 300, 150, 280 per CPU-s / 400
    ratio = result["ratios"]["ours_vs_pytriton"]
    assert ratio["rps"] == pytest.approx(1.2)  # median of 1.2, 1.2, 1.0: not 280/250 from unpaired medians
    assert ratio["p99"] == pytest.approx(0.5) and ratio["repeats"] == 3


def test_a_peer_that_failed_in_a_repeat_is_compared_on_the_repeats_it_ran():
    raws = [{"rows_per_s": 400.0, "rows_per_cpu_s": 400.0}] * 2
    trials = {"ours": [_trial(0, 300, 100), _trial(1, 200, 100)], "mlserver": [_trial(1, 100, 400)]}
    ratio = summarize(raws, trials)["ratios"]["ours_vs_mlserver"]
    assert ratio == {"rps": 2.0, "p99": 0.25, "rows_per_cpu_s": 2.0, "repeats": 1}


def test_each_server_takes_each_position_in_turn():
    names = ["ours", "mlserver", "pytriton"]
    orders = [rotated(names, repeat) for repeat in range(3)]
    assert [order[0] for order in orders] == names
    assert all(sorted(order) == sorted(names) for order in orders)


def test_a_triton_model_gets_rows_as_columns():
    triton = {
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1, 1]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}],
    }
    ours = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}], "outputs": triton["outputs"]}
    assert preflight.wants_columns(triton) and not preflight.wants_columns(ours)
    sends = payloads.TEXT_INPUT.as_column()
    preflight.check_fit("minilm", "minilm", triton, sends)  # fits: no TargetError
    assert payloads.DIGITS_INPUT.as_column() == payloads.DIGITS_INPUT  # [-1, 64] is already 2-D
    assert payloads.text_v2_body(["a", "b"], column=True)["inputs"][0]["shape"] == [2, 1]
    assert payloads.text_v2_body(["a", "b"])["inputs"][0]["shape"] == [2]


def _digits_answer(label_shape: list[int]) -> dict:
    probabilities = [0.0] * 10
    probabilities[3] = 1.0
    return {
        "outputs": [
            {"name": "label", "shape": label_shape, "data": [3]},
            {"name": "probabilities", "shape": [1, 10], "data": probabilities},
        ]
    }


def test_digits_labels_as_a_column_only_when_the_model_says_so():
    validation.digits_v2(_digits_answer([1, 1]), "digits", 1, column=True)
    validation.digits_v2(_digits_answer([1]), "digits", 1)
    with pytest.raises(validation.BadAnswer, match="wrong shape"):
        validation.digits_v2(_digits_answer([1, 1]), "digits", 1)


def test_the_peer_registry_imports_only_the_standard_library():
    # The launchers import it inside the peers' own virtualenvs, which hold none of our heavy dependencies.
    heavy = ["numpy", "onnxruntime", "mlserver", "pytriton", "locust", "fastapi", "rich", "psutil"]
    code = f"import sys, loadtest.studies.peers; print([m for m in {heavy} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench-peers", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--peers" in result.stdout and "pytriton" in result.stdout


def test_mlserver_batching_is_configured_as_its_documentation_names_it(models_dir, tmp_path):
    from loadtest.studies.peers.mlserver_serve import configuration
    from loadtest.studies.peers.repository_model import arguments
    from model_server.repository import scan

    flags = ["--port", "8000", "--model-repository", str(models_dir), "--models", "digits", "--workdir", str(tmp_path)]
    args = arguments("", flags)
    settings, model_settings = configuration(args, scan(models_dir, ["digits"])["digits"]["1"])
    assert (model_settings["max_batch_size"], model_settings["max_batch_time"]) == (32, 0.005)  # adaptive batching
    assert settings["parallel_workers"] == 0 and settings["debug"] is False and settings["host"] == "127.0.0.1"
    assert {o["name"]: o["shape"] for o in model_settings["outputs"]} == {"label": [-1, 1], "probabilities": [-1, 10]}


@pytest.mark.parametrize("peer", ["pytriton", "mlserver"])
def test_a_rerun_starts_each_peer_in_an_empty_workdir(peer, models_dir, tmp_path):
    # PyTriton refused the workspace a first `make bench-peers` had left in the same trial folder.
    out = tmp_path / "peers" / "digits" / peer / "trial-1"
    (out / "workdir").mkdir(parents=True)
    (out / "workdir" / "left-by-an-earlier-run").write_text("")
    server = _server(Bench(models_dir, tmp_path / "peers.json"), peer, "digits", sys.executable, out)
    workdir = server.args[server.args.index("--workdir") + 1]
    assert workdir == str(out / "workdir") and not (out / "workdir").exists()
