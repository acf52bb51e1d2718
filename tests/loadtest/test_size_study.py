"""The size study: magnitude pruning on a tiny real ONNX model, and a real --quick run writing its table (slow)."""

from __future__ import annotations

import csv

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from loadtest.studies import size_study


def tiny_model() -> onnx.ModelProto:
    """y = relu(x @ W1 + b) @ W2, with seeded random weights: two MatMul weights and one bias."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(64, 128)).astype(np.float32), "W1")
    w2 = numpy_helper.from_array(rng.normal(size=(128, 10)).astype(np.float32), "W2")
    b = numpy_helper.from_array(rng.normal(size=(128,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["input", "W1"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("MatMul", ["r", "W2"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 10])],
        [w1, w2, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def arrays(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9])
def test_prune_zeroes_the_smallest_weights_only(fraction):
    model = tiny_model()
    before, after = arrays(model), arrays(size_study.prune(model, fraction))
    assert size_study.weight_names(model) == {"W1", "W2"}
    for name in ("W1", "W2"):
        w, p = before[name], after[name]
        assert (p == 0).sum() == round(fraction * w.size)
        kept = p != 0
        np.testing.assert_array_equal(p[kept], w[kept])  # survivors unchanged
        if fraction > 0:
            assert np.abs(w[~kept]).max() <= np.abs(w[kept]).min()  # the smallest magnitudes went
    np.testing.assert_array_equal(after["b"], before["b"])  # the bias is not a weight matrix
    assert arrays(model)["W1"].all()  # the input model is not modified


def test_pruning_shrinks_gzip_not_the_raw_file_and_still_runs():
    model = tiny_model()
    raw = model.SerializeToString()
    pruned = size_study.prune(model, 0.9)
    data = pruned.SerializeToString()
    assert len(data) >= len(raw)  # zeros are still 4-byte floats
    assert size_study.gzip_size(data) < 0.5 * size_study.gzip_size(raw)
    assert size_study.zero_count(pruned) == (round(0.9 * 64 * 128) + round(0.9 * 128 * 10), 64 * 128 + 128 * 10)
    (out,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {"input": np.ones((2, 64), np.float32)}
    )
    assert out.shape == (2, 10) and np.isfinite(out).all()


def test_prune_rejects_a_bad_fraction():
    with pytest.raises(ValueError):
        size_study.prune(tiny_model(), 1.5)


@pytest.mark.slow
def test_quick_size_study_writes_csv_and_markdown(tmp_path):
    rows = size_study.run(tmp_path, quick=True)
    expected = ["width-32", "width-128", "width-128-pruned-50", "width-128-pruned-90", "width-128-int8"]
    with (tmp_path / "size_study.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["config"] for r in table] == [r["config"] for r in rows] == expected
    assert list(table[0]) == size_study.COLUMNS
    by = {r["config"]: r for r in rows}
    assert [by[c]["zero_pct"] for c in expected[1:4]] == [0.0, 50.0, 90.0]
    assert by["width-128"]["weights"] > by["width-32"]["weights"]
    assert by["width-128"]["size_bytes"] > by["width-32"]["size_bytes"]
    # pruning: the same raw size, a smaller gzip; int8: a smaller raw file with about the same accuracy
    assert by["width-128-pruned-90"]["size_bytes"] == by["width-128"]["size_bytes"]
    assert (
        by["width-128-pruned-90"]["gzip_bytes"]
        < by["width-128-pruned-50"]["gzip_bytes"]
        < by["width-128"]["gzip_bytes"]
    )
    assert by["width-128-int8"]["size_bytes"] < by["width-128"]["size_bytes"] / 2
    assert abs(by["width-128-int8"]["accuracy"] - by["width-128"]["accuracy"]) <= 0.02
    for r in rows:
        assert 0 < r["p50_ms"] <= r["p95_ms"] and 0 <= r["accuracy"] <= 1
    md = (tmp_path / "size_study.md").read_text()
    assert md.startswith("# Model size and pruning")
    assert md.count("\n| width-") == len(expected) and "| config | hidden |" in md
