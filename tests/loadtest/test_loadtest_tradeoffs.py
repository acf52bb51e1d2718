"""The trade-off study: pure table logic, and a real --quick run producing a table and a chart (slow)."""

from __future__ import annotations

import csv

import pytest

from loadtest.studies.tradeoffs import COLUMNS, MATRIX, QUICK, dominated


def row(config, p95, quality, cost, metric="accuracy"):
    return {"config": config, "p95_ms": p95, "quality": quality, "usd_per_million": cost, "quality_metric": metric}


def test_dominated_needs_no_worse_on_every_axis():
    rows = [
        row("fast", 10, 0.97, 0.1),
        row("accurate", 30, 0.99, 0.1),
        row("worse", 35, 0.97, 0.2),
        row("missed-slo", 9, 0.97, ""),
        row("other-family", 50, 0.5, 1.0, metric="margin"),
    ]
    assert dominated(rows) == {"worse"}


def test_identical_configurations_do_not_dominate_each_other():
    assert dominated([row("a", 10, 0.9, 0.1), row("b", 10, 0.9, 0.1)]) == set()


def test_matrix_covers_the_study():
    ids = {c.id for c in MATRIX}
    assert set(QUICK) <= ids
    flags = {
        flag: {c.overrides.get(flag) for c in MATRIX}
        for flag in ("--max-batch-size", "--intra-op-threads", "--graph-optimization", "--text-padding")
    }
    assert {"1", None} <= flags["--max-batch-size"]
    assert {"2", None} <= flags["--intra-op-threads"]
    assert {"disable", "basic", "extended", None} <= flags["--graph-optimization"]
    assert {"max", None} <= flags["--text-padding"]
    assert {(c.model, c.version) for c in MATRIX} >= {
        ("digits", "1"),
        ("digits", "2"),
        ("digits-large", "1"),
        ("digits-large", "2"),
        ("minilm", "1"),
    }


@pytest.mark.slow
def test_quick_tradeoffs_write_table_and_chart(tmp_path, loadtest):
    out = tmp_path / "tradeoffs"
    proc = loadtest("tradeoffs", "--quick", "--duration", "3", "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "tradeoffs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["config"] for r in rows] == QUICK
    assert list(rows[0]) == COLUMNS
    for r in rows:
        assert 0 < float(r["p50_ms"]) <= float(r["p95_ms"]) <= float(r["p99_ms"])
        assert float(r["rps"]) > 0 and float(r["error_rate"]) == 0
        assert 0.9 < float(r["quality"]) < 1 if r["quality_metric"] == "accuracy" else 0 < float(r["quality"]) < 1
        assert float(r["size_mb"]) > 0
        assert r["pareto"] in ("yes", "dominated")
        assert (r["slo"] == "met") == (r["usd_per_million"] != "")
    assert any(r["pareto"] == "yes" for r in rows)
    md = (out / "tradeoffs.md").read_text()
    assert md.count("\n| ") == len(rows) + 1  # header + one line per configuration
    assert (out / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "digits-int8" / "summary.json").exists()
