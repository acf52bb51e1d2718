import math

import pytest

from loadtest.slo import Slo, evaluate, median_metrics, metrics


def summary(p95=100.0, p99=200.0, error_rate=0.0, rps=50.0):
    return {
        "total": {
            "latency_ms": {"p50": 10.0, "p90": 50.0, "p95": p95, "p99": p99, "max": 300.0},
            "error_rate": error_rate,
            "rps": rps / (1 - error_rate),
            "ok_rps": rps,
        }
    }


SLO = Slo.from_dict({"latency_ms": {"p95": 250, "p99": 500}, "max_error_rate": 0.01, "min_rps": 5})


def test_default_slo_file_loads():
    slo = Slo.load()
    assert set(slo.latency_ms) == {"p95", "p99"}
    assert slo.max_error_rate is not None and slo.min_rps is not None


def test_pass():
    checks = evaluate(SLO, metrics(summary()))
    assert [c.objective for c in checks] == ["p95 latency", "p99 latency", "error rate", "throughput"]
    assert all(c.passed for c in checks)


def test_latency_failure_names_the_objective_and_the_margin():
    checks = evaluate(SLO, metrics(summary(p95=300.0)))
    failed = [c for c in checks if not c.passed]
    assert [c.objective for c in failed] == ["p95 latency"]
    assert "300.0 ms > 250 ms" in failed[0].message
    assert "over by 50.0 ms, +20%" in failed[0].message


def test_error_rate_and_throughput_failures():
    checks = {c.objective: c for c in evaluate(SLO, metrics(summary(error_rate=0.05, rps=2.0)))}
    assert not checks["error rate"].passed
    assert "5.00% > 1.00%" in checks["error rate"].message
    assert not checks["throughput"].passed
    assert "short by 3.0 rps" in checks["throughput"].message


def test_limits_are_inclusive():
    assert all(c.passed for c in evaluate(SLO, metrics(summary(p95=250.0, p99=500.0, error_rate=0.01, rps=5.0))))


def test_no_answered_requests_fails_latency():
    checks = evaluate(SLO, {"error_rate": 1.0, "rps": 0.0})
    assert not any(c.passed for c in checks)
    assert math.isnan(checks[0].actual)


def test_median_of_trials_forgives_one_unlucky_run():
    trials = [summary(p95=120.0), summary(p95=900.0), summary(p95=130.0)]
    measured = median_metrics(trials)
    assert measured["p95"] == 130.0
    assert all(c.passed for c in evaluate(SLO, measured))


def test_median_of_trials_fails_when_most_runs_miss():
    trials = [summary(p95=300.0), summary(p95=900.0), summary(p95=130.0)]
    assert not all(c.passed for c in evaluate(SLO, median_metrics(trials)))


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"latency_ms": {"p95": 0}}, "latency_ms.p95: Input should be greater than 0"),
        ({"latency_ms": {"p99": -5}}, "latency_ms.p99: Input should be greater than 0"),
        ({"min_rps": 0}, "min_rps: Input should be greater than 0"),
        ({"max_error_rate": -0.1}, "max_error_rate: Input should be greater than or equal to 0"),
        ({"max_error_rate": 2}, "max_error_rate: Input should be less than or equal to 1"),
        ({"latency_ms": {"p95": "250"}}, "latency_ms.p95: Input should be a valid number"),
        ({"latency_ms": {"p95": True}}, "latency_ms.p95: Input should be a valid number"),
        ({"latency_ms": [250]}, "latency_ms: Input should be a valid dictionary"),
        ({"latency_ms": {"p42": 1}}, "latency_ms.p42: unknown latency objective"),
        ({"p95": 3}, "p95: unknown key (allowed: latency_ms, max_error_rate, min_rps)"),
        ({}, "no objective"),
        ([1, 2], "Input should be a valid dictionary"),
    ],
)
def test_bad_slo_files_get_one_line_naming_the_key(data, named):
    with pytest.raises(ValueError) as info:
        Slo.from_dict(data)
    assert named in str(info.value) and "\n" not in str(info.value)


def test_zero_error_rate_is_a_valid_limit():
    assert Slo.from_dict({"max_error_rate": 0}).max_error_rate == 0


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    # Why the CLI wants an odd --trials: with 2 trials, one bad run moves the figure judged.
    assert median_metrics([summary(p95=100.0), summary(p95=900.0)])["p95"] == 500.0


def test_a_trial_without_successes_leaves_latency_unmeasured():
    failed = {"total": {"error_rate": 1.0, "ok_rps": 0.0}}
    measured = median_metrics([summary(), failed, summary()])
    assert "p95" not in measured
    assert not evaluate(SLO, measured)[0].passed


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "slo.yaml"
    path.write_text("latency_ms: [unclosed\n")
    with pytest.raises(ValueError, match=r"slo\.yaml: not valid YAML") as info:
        Slo.load(path)
    assert "\n" not in str(info.value)


def test_bad_slo_file_is_one_line_on_the_command_line(tmp_path, loadtest):
    path = tmp_path / "slo.yaml"
    path.write_text("latency_ms: {p95: 0}\n")
    proc = loadtest("run", "--host", "http://127.0.0.1:9", "--slo", str(path), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: SLO file {path}: latency_ms.p95: Input should be greater than 0"


def test_an_even_number_of_trials_is_refused(tmp_path, loadtest):
    proc = loadtest("run", "--host", "http://127.0.0.1:9", "--trials", "2", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --trials must be odd (1, 3, 5...), got 2")
