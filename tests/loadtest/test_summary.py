import json

import pytest

from loadtest import plots, summary
from loadtest.records import Record, read_csv, write_csv


def rec(start, ms, name="digits v2 infer", model="digits", error=""):
    return Record(
        start=start,
        name=name,
        method="POST",
        model=model,
        status=200 if not error else 503,
        latency_ms=ms,
        length=100,
        error=error,
    )


RECORDS = [rec(1000.0 + i * 0.1, 10.0 + i) for i in range(100)] + [
    rec(1000.05 + i * 0.5, 50.0, name="minilm v2 infer", model="minilm", error="HTTP 503" if i < 2 else "")
    for i in range(20)
]


def test_summary_totals_rps_errors_and_percentiles():
    locust_ms = {"total": {"p50": 30.0}, "digits v2 infer": {"p50": 60.0, "p99": 110.0}}
    s = summary.build(RECORDS, target="http://127.0.0.1:1", locust_ms=locust_ms)
    window = max(r.end for r in RECORDS) - 1000.0
    assert s["window_s"] == pytest.approx(window)
    assert s["total"]["requests"] == 120 and s["total"]["failures"] == 2
    assert s["total"]["errors"] == {"HTTP 503": 2}
    assert s["total"]["rps"] == pytest.approx(120 / window)
    assert sum(e["rps"] for e in s["endpoints"].values()) == pytest.approx(s["total"]["rps"])
    assert s["endpoints"]["digits v2 infer"]["latency_ms"]["p50"] == 59.0
    assert s["endpoints"]["digits v2 infer"]["latency_ms"]["max"] == 109.0
    assert s["models"]["minilm"]["error_rate"] == pytest.approx(0.1)
    digits = s["endpoints"]["digits v2 infer"]
    assert digits["exact_minus_locust_ms"] == {"p50": -1.0, "p99": digits["latency_ms"]["p99"] - 110.0}
    assert "exact_minus_locust_ms" not in s["total"]  # Locust counts the 2 failures in its figures
    json.dumps(s)  # serializable as is


def test_latency_is_over_successes_and_failures_only_count_as_errors():
    slow_ok = [rec(1000.0 + i, 200.0) for i in range(10)]
    fast_503 = [rec(1000.5 + i * 0.1, 1.0, error="HTTP 503") for i in range(90)]
    s = summary.build(slow_ok + fast_503, target="http://127.0.0.1:1", locust_ms={"total": {"p50": 1.0}})
    assert s["total"]["latency_ms"]["p50"] == s["total"]["latency_ms"]["min"] == 200.0
    assert s["total"]["error_rate"] == pytest.approx(0.9)
    assert s["total"]["locust_ms"] == {"p50": 1.0} and "exact_minus_locust_ms" not in s["total"]
    only_failures = summary.build(fast_503, target="http://127.0.0.1:1")
    assert "latency_ms" not in only_failures["total"] and only_failures["total"]["error_rate"] == 1.0


def test_empty_run():
    s = summary.build([], target="http://127.0.0.1:1")
    assert s["total"]["requests"] == 0 and "latency_ms" not in s["total"]


def test_timings_round_trip(tmp_path):
    write_csv(RECORDS, tmp_path / "timings.csv")
    assert read_csv(tmp_path / "timings.csv") == RECORDS


def test_plots_are_written(tmp_path):
    series = tmp_path / "replicas.csv"
    series.write_text("time,replicas\n0,1\n5,2\n9,3\n")
    written = plots.timeline(RECORDS, tmp_path, users=[(0, 1), (5, 4)], replicas=plots.read_series(series, 1000.0))
    assert [p.name for p in written] == ["latency.png", "throughput.png", "replicas.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)
