"""`python -m loadtest bench-server`: the CLI, where it pins, and what its JSON reports."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from loadtest.studies.bench_server import Placement, place, summarize


def test_server_and_load_generator_get_different_usable_cores():
    assert place([4, 7, 9]) == Placement(server=4, loadgen=9)  # e.g. a container's cpuset, not 0 and 1
    assert "not pinned" in place(None).describe()  # macOS: no affinity API, nothing pinned, nothing crashes
    with pytest.raises(ValueError, match="needs 2 usable CPUs"):
        place([3])


def _trial(repeat: int, rps: float, p50: float, p99: float) -> dict:
    return {
        "repeat": repeat,
        "rps": rps,
        "rows_per_cpu_s": rps / 0.5 if repeat else rps,  # the second repeat's server got half its core
        "cpu_share": 0.5 if repeat else 1.0,
        "failures": 0,
        "p50_ms": p50,
        "p99_ms": p99,
        "p99_over_p50": p99 / p50,
    }


def test_json_reports_percentiles_and_ratios_per_configuration():
    # The second repeat ran on a busier machine: its ratios use its own raw limit.
    raws = [
        {"rows_per_s": 200.0, "rows_per_cpu_s": 200.0, "cpu_share": 1.0},
        {"rows_per_s": 100.0, "rows_per_cpu_s": 200.0, "cpu_share": 0.5},
    ]
    trials = {
        "batching_on": [_trial(0, 180, 100, 200), _trial(1, 80, 150, 450)],
        "batching_off": [_trial(0, 90, 200, 300), _trial(1, 45, 300, 600)],
        "naive": [_trial(0, 60, 250, 700), _trial(1, 30, 400, 900)],
    }
    result = summarize(raws, trials)
    on = result["configs"]["batching_on"]
    assert on["p50_ms"] == 125 and on["p99_ms"] == 325 and on["p99_over_p50"] == 2.5
    assert on["server_over_raw"] == pytest.approx(0.85)  # median of 180/200 and 80/100
    assert on["server_over_raw_per_cpu_s"] == pytest.approx(0.85)  # 180/200 and 160/200
    assert result["ratios"]["batching_on_vs_off"] == pytest.approx(130 / 67.5)  # medians of rows/s
    assert result["targets"]["met"] is True
    trials["batching_on"][1]["p99_over_p50"] = 4.0
    assert summarize(raws, trials)["targets"]["met"] is False


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", "bench-server", *args], capture_output=True, text=True, timeout=120
    )


def test_help():
    result = _cli("--help")
    assert result.returncode == 0 and "--repeats" in result.stdout and "p99" in result.stdout


@pytest.mark.skipif(not shutil.which("taskset"), reason="needs taskset (util-linux) to restrict this test to one core")
def test_one_usable_core_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-m", "loadtest", "bench-server", "--out", str(tmp_path / "b.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: the benchmark needs 2 usable CPUs (one server, one load generator); this process has [0]"
    ]
    assert not (tmp_path / "b.json").exists()


def test_the_load_generator_share_leaves_out_the_servers_it_started():
    # The servers are this process's children: their CPU must not count as the load generator's.
    from loadtest.studies.bench_server import loadgen_cpu_seconds

    before = loadgen_cpu_seconds()
    subprocess.run(
        [sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 1: pass"]
    )
    assert loadgen_cpu_seconds() - before < 0.5
