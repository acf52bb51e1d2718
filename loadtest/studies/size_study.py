"""Model size and pruning: hidden width as a hyperparameter, and magnitude pruning of the widest model.

Digits MLPs with 3 hidden layers of growing width are trained with the same seeded split, seed and
fixed iteration budget as `make models` (model_server.builders.digits). The widest one is then pruned:
the smallest-magnitude X% of each MatMul weight matrix is set to zero. Zeros are still stored as
4-byte floats and still multiplied by dense kernels, so pruning shrinks the gzip-compressed file but
neither the raw file nor the latency. int8 dynamic quantization of the widest model is shown for
comparison. Latency is in-process onnxruntime at batch 1 with one intra-op thread, pinned to one core.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from rich.table import Table

from loadtest import report
from loadtest.percentiles import nearest_rank
from model_server.builders import digits
from model_server.cpus import pinnable_cores, pinned

LAYERS, MAX_ITER = 3, 20  # digits-large is 3 x 2048 with 20 iterations: the widest row is that model
WIDTHS, QUICK_WIDTHS = (64, 256, 1024, 2048), (32, 128)
PRUNE_PCT = (50, 90)
WARMUP, RUNS, ROUNDS = 50, 100, 3  # per model; rounds interleave the models so a noise burst hits all of them
WEIGHT_OPS = {"MatMul", "Gemm", "MatMulInteger", "DynamicQuantizeMatMul"}  # input 1 is the weight matrix
HEADERS = ["config", "hidden", "weights", "zero %", "accuracy", "MB", "gzip MB", "gzip/raw", "p50 ms", "p95 ms"]
COLUMNS = [
    "config",
    "hidden",
    "weights",
    "zero_pct",
    "accuracy",
    "size_bytes",
    "gzip_bytes",
    "gzip_ratio",
    "p50_ms",
    "p95_ms",
]


def weight_names(model: onnx.ModelProto) -> set[str]:
    """Names of the initializers that are the weight input (input 1) of a matrix multiplication."""
    inits = {i.name for i in model.graph.initializer}
    return {n.input[1] for n in model.graph.node if n.op_type in WEIGHT_OPS and n.input[1] in inits}


def zero_count(model: onnx.ModelProto) -> tuple[int, int]:
    """(zeros, total) over the weight matrices."""
    names = weight_names(model)
    arrays = [numpy_helper.to_array(i) for i in model.graph.initializer if i.name in names]
    return sum(int((a == 0).sum()) for a in arrays), sum(a.size for a in arrays)


def prune(model: onnx.ModelProto, fraction: float) -> onnx.ModelProto:
    """A copy of `model` with the smallest-magnitude `fraction` of each weight matrix set to zero."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    names = weight_names(pruned)
    for init in pruned.graph.initializer:
        if init.name in names:
            w = numpy_helper.to_array(init).copy()
            flat = w.reshape(-1)
            flat[np.argsort(np.abs(flat), kind="stable")[: round(fraction * flat.size)]] = 0
            init.CopyFrom(numpy_helper.from_array(w, init.name))
    return pruned


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def latencies_ms(paths: dict[str, Path], x: np.ndarray) -> dict[str, list[float]]:
    """Batch-1 latencies of each model: WARMUP runs discarded, then ROUNDS interleaved rounds of RUNS."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sessions = {cid: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for cid, p in paths.items()}
    feeds = [{"input": x[i : i + 1]} for i in range(len(x))]
    for s in sessions.values():
        for i in range(WARMUP):
            s.run(None, feeds[i % len(feeds)])
    times: dict[str, list[float]] = {cid: [] for cid in sessions}
    for _ in range(ROUNDS):
        for cid, s in sessions.items():
            for i in range(RUNS):
                t = time.perf_counter()
                s.run(None, feeds[i % len(feeds)])
                times[cid].append((time.perf_counter() - t) * 1000)
    return times


def _md(rows: list[dict], notes: list[str]) -> str:
    lines = [
        "# Model size and pruning",
        "",
        *(f"- {n}" for n in notes),
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(str(v) for v in _shown(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _shown(r: dict) -> list:
    return [
        r["config"],
        r["hidden"],
        r["weights"],
        r["zero_pct"],
        r["accuracy"],
        round(r["size_bytes"] / 1e6, 3),
        round(r["gzip_bytes"] / 1e6, 3),
        r["gzip_ratio"],
        r["p50_ms"],
        r["p95_ms"],
    ]


def run(out: Path, quick: bool) -> list[dict]:
    """Trains, prunes, quantizes and measures; writes size_study.csv and size_study.md to `out`."""
    started = time.monotonic()
    widths = QUICK_WIDTHS if quick else WIDTHS
    widest = max(widths)
    _, x_test, _, y_test = digits.split()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="size-study-") as tmp:
        models, hidden = {}, {}
        for w in widths:
            report.console.print(
                f"training {LAYERS} x {w}, {MAX_ITER} iterations ({time.monotonic() - started:.0f} s elapsed)",
                highlight=False,
            )
            models[f"width-{w}"], hidden[f"width-{w}"] = digits.train((w,) * LAYERS, MAX_ITER), w
        for pct in PRUNE_PCT:
            cid = f"width-{widest}-pruned-{pct}"
            models[cid], hidden[cid] = prune(models[f"width-{widest}"], pct / 100), widest
        paths = {cid: Path(tmp) / f"{cid}.onnx" for cid in models}
        for cid, m in models.items():
            paths[cid].write_bytes(m.SerializeToString())
        int8 = f"width-{widest}-int8"
        paths[int8], hidden[int8] = Path(tmp) / f"{int8}.onnx", widest
        quantize_dynamic(paths[f"width-{widest}"], paths[int8], weight_type=QuantType.QInt8)
        report.console.print(f"measuring {len(paths)} models ({time.monotonic() - started:.0f} s elapsed)")
        cores = pinnable_cores()
        # One of the cores this process may use for the measured thread, when there is a spare.
        core = cores[0] if cores and len(cores) >= 2 else None
        with pinned(core) if core is not None else nullcontext(False) as was_pinned:
            times = latencies_ms(paths, x_test)
        rows = []
        for cid, path in paths.items():
            data = path.read_bytes()
            zeros, total = zero_count(onnx.load_from_string(data))
            ordered, gz = sorted(times[cid]), gzip_size(data)
            rows.append(
                {
                    "config": cid,
                    "hidden": f"{LAYERS}x{hidden[cid]}",
                    "weights": total,
                    "zero_pct": round(100 * zeros / total, 1),
                    "accuracy": round(digits.onnx_accuracy(path, x_test, y_test), 4),
                    "size_bytes": len(data),
                    "gzip_bytes": gz,
                    "gzip_ratio": round(gz / len(data), 3),
                    "p50_ms": round(nearest_rank(ordered, 50), 4),
                    "p95_ms": round(nearest_rank(ordered, 95), 4),
                }
            )
    notes = [
        f"digits MLPs, {LAYERS} hidden layers, MLPClassifier(max_iter={MAX_ITER}, random_state={digits.SEED}), "
        f"accuracy on the {len(y_test)} held-out rows of `make models`' split.",
        f"pruned-X: the smallest-magnitude X% of each MatMul weight matrix of width-{widest} set to zero "
        "(no retraining); "
        f"int8: onnxruntime quantize_dynamic(QInt8) of width-{widest}. zero %: zeros among the weight matrices.",
        "MB: ONNX file (10^6 bytes); gzip: the same file through gzip level 9.",
        f"Latency: in-process onnxruntime, batch 1, 1 intra-op thread, {WARMUP} warm-up runs, then {ROUNDS} "
        f"interleaved rounds of {RUNS} runs per model; exact nearest-rank percentiles. "
        + (
            f"Pinned to core {core}."
            if was_pinned
            else "Not pinned (" + ("this platform cannot pin)." if cores is None else "fewer than 2 usable cores).")
        ),
    ]
    with (out / "size_study.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "size_study.md").write_text(_md(rows, notes))
    table = Table(title=f"model size and pruning ({time.monotonic() - started:.0f} s)")
    for header in HEADERS:
        table.add_column(header, no_wrap=True)
    for r in rows:
        table.add_row(*(str(v) for v in _shown(r)))
    report.console.print(table)
    report.console.print(f"wrote {out / 'size_study.csv'}, {out / 'size_study.md'}")
    return rows
