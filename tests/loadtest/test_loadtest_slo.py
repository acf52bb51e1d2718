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


@pytest.mark.parametrize("data", [[1, 2], {"latency_ms": {"p42": 1}}, {"p95": 3}, {"latency_ms": {"p95": "fast"}}])
def test_bad_slo_files_are_rejected(data):
    with pytest.raises(ValueError):
        Slo.from_dict(data)


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "slo.yaml"
    path.write_text("latency_ms: [unclosed\n")
    with pytest.raises(ValueError, match="slo.yaml"):
        Slo.load(path)
