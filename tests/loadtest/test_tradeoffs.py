"""The trade-off study: pure table logic, server figures from /metrics text, and a real --quick run (slow)."""

from __future__ import annotations

import csv
import math

import pytest

from loadtest.studies.server_metrics import between, parse
from loadtest.studies.tradeoffs import MATRIX, QUICK, RATES, SWEEP_ONLY, SWEEPS, usd_per_million
from loadtest.tradeoff_table import COLUMNS, dominated


def row(config, p95, quality, cost, metric="accuracy", spread=0.0):
    return {
        "config": config,
        "p95_ms": p95,
        "quality": quality,
        "usd_per_million": cost,
        "quality_metric": metric,
        "cpu_spread": spread,
    }


def test_dominated_needs_no_worse_on_cost_and_quality():
    rows = [
        row("cheap", 10, 0.97, 0.1),
        row("accurate", 30, 0.99, 0.2),
        row("worse", 35, 0.97, 0.3),
        row("missed-slo", 9, 0.97, ""),
        row("other-family", 50, 0.5, 1.0, metric="margin"),
    ]
    assert dominated(rows) == {"worse", "missed-slo"}


def test_identical_configurations_do_not_dominate_each_other():
    assert dominated([row("a", 10, 0.9, 0.1), row("b", 10, 0.9, 0.1)]) == set()


def test_p95_noise_does_not_move_the_front():
    """Lab 07's flip: one run had large-fp32 at p95 41.4 ms and large-int8 at 33.0, the next the reverse. p95 decides
    the SLO verdict only; the front comes from cost (server CPU) and quality."""
    for p95_fp32, p95_int8 in ((41.4, 33.0), (33.0, 41.4)):
        rows = [row("large-fp32", p95_fp32, 0.9822, 0.0132), row("large-int8", p95_int8, 0.9822, 0.0093)]
        assert dominated(rows) == {"large-fp32"}


def test_cost_differences_within_the_noise_margin_are_ties():
    rows = [row("a", 10.0, 0.9, 0.100), row("b", 10.0, 0.9, 0.109)]  # 9% apart
    assert dominated(rows, margin=0.10) == set()
    assert dominated(rows, margin=0.0) == {"b"}
    assert dominated([row("a", 10.0, 0.9, 0.1), row("b", 10.0, 0.9, 0.115)], margin=0.10) == {"b"}  # 15%: beyond


def test_a_row_whose_repeats_disagree_more_than_the_margin_widens_it():
    rows = [row("a", 10.0, 0.9, 0.100, spread=0.2), row("b", 10.0, 0.9, 0.115)]
    assert dominated(rows, margin=0.10) == set()  # 15% apart, but a's own repeats spread 20%


def test_noise_on_cost_does_not_hide_a_real_loss_of_quality():
    # b is 5% cheaper (noise) but clearly less accurate: a does not dominate b... unless costs are exact.
    rows = [row("a", 10.0, 0.99, 0.105), row("b", 10.0, 0.95, 0.100)]
    assert dominated(rows, margin=0.10) == {"b"}
    assert dominated(rows, margin=0.0) == set()


def test_cpu_is_priced_by_the_second_so_different_cpu_costs_differ():
    """Before: replicas rounded up at the target load gave all four digits rows the same $0.0222."""
    cpu = {"digits-fp32": 0.463, "digits-int8": 0.476, "large-fp32": 0.829, "large-int8": 0.585}
    costs = {c: usd_per_million(ms, 0.04, 0.3) for c, ms in cpu.items()}
    assert len({round(c, 5) for c in costs.values()}) == 4
    assert costs["large-int8"] == pytest.approx(0.585e-3 * 1e6 / 3600 * 0.04 / 0.7)
    assert costs["large-fp32"] / costs["large-int8"] == pytest.approx(0.829 / 0.585)


METRICS_BEFORE = """
process_cpu_seconds_total 10.0
model_server_requests_total{code="200",model="digits",version="2"} 100.0
model_server_requests_total{code="503",model="digits",version="2"} 5.0
model_server_requests_total{code="200",model="digits",version="1"} 7.0
model_server_queue_duration_seconds_sum{model="digits",version="2"} 1.0
model_server_queue_duration_seconds_count{model="digits",version="2"} 100.0
model_server_inference_duration_seconds_sum{model="digits",version="2"} 2.0
model_server_inference_duration_seconds_count{model="digits",version="2"} 50.0
model_server_batch_size_sum{model="digits",version="2"} 100.0
model_server_batch_size_count{model="digits",version="2"} 50.0
"""


def test_server_figures_are_deltas_for_one_model_version():
    after = (
        METRICS_BEFORE.replace("10.0\n", "12.0\n", 1)
        .replace(
            'version="2"} 100.0\nmodel_server_requests_total{code="503"',
            'version="2"} 300.0\nmodel_server_requests_total{code="503"',
        )
        .replace(
            'queue_duration_seconds_sum{model="digits",version="2"} 1.0',
            'queue_duration_seconds_sum{model="digits",version="2"} 1.4',
        )
        .replace(
            'queue_duration_seconds_count{model="digits",version="2"} 100.0',
            'queue_duration_seconds_count{model="digits",version="2"} 300.0',
        )
        .replace(
            'inference_duration_seconds_sum{model="digits",version="2"} 2.0',
            'inference_duration_seconds_sum{model="digits",version="2"} 2.5',
        )
        .replace(
            'inference_duration_seconds_count{model="digits",version="2"} 50.0',
            'inference_duration_seconds_count{model="digits",version="2"} 100.0',
        )
        .replace('batch_size_sum{model="digits",version="2"} 100.0', 'batch_size_sum{model="digits",version="2"} 300.0')
        .replace(
            'batch_size_count{model="digits",version="2"} 50.0', 'batch_size_count{model="digits",version="2"} 100.0'
        )
    )
    f = between(parse(METRICS_BEFORE), parse(after), "digits", "2")
    assert f.requests == 200  # version 1's counter is not counted
    assert f.queue_ms == pytest.approx(2.0)  # 0.4 s over 200 requests
    assert f.inference_ms == pytest.approx(10.0)  # 0.5 s over 50 batches
    assert f.batch_rows == pytest.approx(4.0)
    assert f.cpu_ms_per_request == pytest.approx(10.0)  # 2 CPU seconds over 200 requests


def test_no_process_metrics_means_no_cpu_figure():
    text = "\n".join(line for line in METRICS_BEFORE.splitlines() if not line.startswith("process_"))
    assert math.isnan(between(parse(text), parse(text), "digits", "2").cpu_ms_per_request)


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
    assert {c.profile for c in MATRIX} == set(RATES)


def test_each_sweep_varies_one_serving_knob_and_stays_out_of_the_full_matrix():
    by_id = {c.id: c for c in [*MATRIX, *SWEEP_ONLY]}
    assert not {c.id for c in SWEEP_ONLY} & {c.id for c in MATRIX}  # `make tradeoffs` stays its length
    for name, ids in SWEEPS.items():
        configs = [by_id[i] for i in ids]
        assert len({(c.model, c.version) for c in configs}) <= 2, name
        varied = {flag for c in configs for flag in c.overrides}
        assert len(varied) <= 2 and len({c.server_args().count("--models") for c in configs}) == 1, (name, varied)
    batching = [by_id[i].server_args() for i in SWEEPS["batching"]]
    knobs = {(a[a.index("--max-batch-size") + 1], a[a.index("--max-queue-delay-ms") + 1]) for a in batching}
    assert {("1", "0"), ("4", "0"), ("8", "0"), ("32", "0"), ("32", "2"), ("32", "10")} == knobs


@pytest.mark.slow
def test_a_sweep_name_runs_its_configurations(tmp_path, loadtest):
    out = tmp_path / "sweep"
    proc = loadtest(
        "tradeoffs", "--only", "threads", "--duration", "2", "--repeats", "1", "--out", str(out), timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "tradeoffs.csv").open() as fh:
        assert [r["config"] for r in csv.DictReader(fh)] == SWEEPS["threads"]
    wrong = loadtest("tradeoffs", "--only", "nope", "--out", str(tmp_path / "x"), timeout=60)
    assert wrong.returncode != 0 and "sweeps: batching, threads, graph" in wrong.stdout + wrong.stderr


@pytest.mark.slow
def test_quick_tradeoffs_write_table_and_chart(tmp_path, loadtest):
    out = tmp_path / "tradeoffs"
    proc = loadtest("tradeoffs", "--quick", "--duration", "3", "--repeats", "2", "--out", str(out), timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "tradeoffs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["config"] for r in rows] == QUICK
    assert list(rows[0]) == COLUMNS
    for r in rows:
        assert 0 < float(r["p50_ms"]) <= float(r["p95_ms"]) <= float(r["p99_ms"])
        assert float(r["rps"]) > 0 and float(r["error_rate"]) == 0
        assert float(r["offered_rps"]) == RATES["minilm" if r["model"] == "minilm" else "digits"]
        assert float(r["server_inference_ms"]) > 0 and float(r["cpu_ms_per_request"]) > 0
        assert 1 <= float(r["batch_rows"]) <= 32
        assert 0.9 < float(r["quality"]) < 1 if r["quality_metric"] == "accuracy" else 0 < float(r["quality"]) < 1
        assert float(r["size_mb"]) > 0
        assert r["pareto"] in ("yes", "dominated")
        assert r["slo"] == "met" or r["slo"].startswith("missed: ")
        assert (r["slo"] == "met") == (r["usd_per_million"] != "")
        assert float(r["cpu_spread"]) >= 0 and float(r["noise_margin"]) == 0.1
    by = {r["config"]: r for r in rows}
    # Server-side time tells the models apart even where client latency at this rate is mostly HTTP.
    assert float(by["minilm-max128"]["server_inference_ms"]) > 2 * float(by["minilm-longest"]["server_inference_ms"])
    assert any(r["pareto"] == "yes" for r in rows)
    md = (out / "tradeoffs.md").read_text()
    assert md.count("\n| ") == len(rows) + 1  # header + one line per configuration
    assert "noise margin of 10%" in md and "Open loop" in md and "priced by the second" in md
    assert (out / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "digits-int8" / "run-2" / "summary.json").exists()  # one folder per repeat


def test_pareto_chart_names_configurations_without_overlaps_and_draws_no_cost_where_there_is_none():
    """pareto.png as a learner reads it: labels written next to points overlapped for the minilm rows, the
    'missed the SLO: no cost' marker sat at a cost on the cost axis, and a flat quality axis said nothing."""
    import matplotlib.pyplot as plt

    from loadtest.studies.pareto_chart import pareto_figure

    def r(config, cost, quality, metric, p95=50.0, cpu=5.0):
        return {
            **row(config, p95, quality, cost, metric), "model": config.split("-")[0], "offered_rps": 25.0,
            "cpu_ms_per_request": cpu, "pareto": "yes",
        }  # fmt: skip

    rows = [
        r("minilm-longest", 0.088, 0.6952, "margin"),
        r("minilm-basic", 0.089, 0.6952, "margin"),
        r("minilm-max128", "", 0.6952, "margin", p95=1400.0, cpu=38.0),
    ]
    fig = pareto_figure(rows, p95_limit=250.0)
    plane, latency = fig.axes[:2]
    assert [len(c.get_offsets()) for c in plane.collections] == [1, 1]  # the two with a cost; none for the missed one
    assert "missed the SLO, so no cost: minilm-max128" in plane.get_title()
    assert "same model: quality 0.6952 for all" in plane.get_title()
    assert not plane.texts and not [t for t in latency.texts if "minilm" in t.get_text()]  # no labels on points
    assert {t.get_text() for t in latency.get_legend().get_texts()} == {
        "minilm-longest (front)", "minilm-basic (front)", "minilm-max128 (missed SLO)",
    }  # fmt: skip
    plt.close(fig)
