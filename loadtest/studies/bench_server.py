"""`make bench-server`: how close the model server gets to onnxruntime's own limit, measured in one run.

For each model, side by side on the same machine and thread count:
- raw: in-process `predict` on full batches (tokenization and pooling included): the limit;
- server, batching on and batching off, under `--users` concurrent closed-loop clients sending one row each;
- naive: the server people write first (loadtest.studies.naive_server: one request, one session.run).
The server (or the raw loop) runs on one core and the Locust load generator on the other, so they do not
steal each other's CPU time. Results go to a JSON file; ratios are printed.
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loadtest import payloads
from loadtest.local_server import LocalServer, pinned
from loadtest.runner import RunConfig, run
from model_server.repository import default_version, scan
from model_server.runtime import build_model, session_options

SERVER_CPU, LOADGEN_CPU = 0, 1
THREADS = 1  # onnxruntime intra-op threads everywhere: the server gets one core


def _rows(model: str, count: int) -> list:
    rng = random.Random(0)
    if model == "minilm":
        return [payloads.make_text(rng, payloads.TEXT_PRESETS["short"]) for _ in range(count)]
    return payloads.make_digits_rows(rng, count)


def raw_limit(repository: Path, model_name: str, batch: int, seconds: float) -> float:
    """Rows per second of `predict` on full batches, on the server's core, in this process."""
    import numpy as np

    versions = scan(repository, [model_name])[model_name]
    model = build_model(versions[default_version(versions)], session_options(THREADS, 1, "all"))
    model.load()
    spec = model.card.inputs[0]
    data = np.array(_rows(model_name, batch), dtype=object if spec.datatype == "BYTES" else np.float32)
    with pinned(SERVER_CPU):
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            model.predict({spec.name: data})
            done += batch
        return done / (time.perf_counter() - started)


def served(repository: Path, out: Path, model: str, module: str, args: list[str], users: int, duration: float) -> dict:
    """Throughput and latency of one server configuration under a closed-loop load of one row per request."""
    out.mkdir(parents=True, exist_ok=True)
    with LocalServer(repository, args, cpus=str(SERVER_CPU), module=module, log_path=out / "server.log") as server:
        summary = run(
            RunConfig(
                host=server.url,
                out=out,
                profile=model,
                users=users,
                duration=duration,
                text_length="short",
                v1_weight=0,
                progress=False,
            )
        )
    total = summary["total"]
    return {
        "rps": total["ok_rps"],
        "failures": total["failures"],
        "latency_ms": total.get("latency_ms", {}),
        "load_generator_cpu_saturated": summary.get("load_generator_cpu_saturated"),
    }


def bench_model(repository: Path, out: Path, model: str, users: int, duration: float, batch: int) -> dict:
    print(f"==> {model}: raw onnxruntime limit", flush=True)
    raw = raw_limit(repository, model, batch, seconds=min(duration, 10))
    common = ["--models", model, "--intra-op-threads", str(THREADS), "--max-queue-size", str(4 * users)]
    configs = {
        "batching_on": ("model_server", [*common, "--max-batch-size", str(batch)]),
        "batching_off": ("model_server", [*common, "--max-batch-size", "1"]),
        "naive": ("loadtest.studies.naive_server", ["--model", model, "--threads", str(THREADS)]),
    }
    result = {"raw_rows_per_s": raw}
    for name, (module, args) in configs.items():
        print(f"==> {model}: {name} ({users} users, {duration:g} s)", flush=True)
        result[name] = served(repository, out / model / name, model, module, args, users, duration)
    on = result["batching_on"]["rps"]
    result["ratios"] = {
        "batching_on_vs_raw": on / raw,
        "batching_on_vs_off": on / max(result["batching_off"]["rps"], 1e-9),
        "batching_on_vs_naive": on / max(result["naive"]["rps"], 1e-9),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.studies.bench_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-repository", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=Path("results/bench/server.json"))
    parser.add_argument("--models", default="minilm,digits", help="comma-separated (default: minilm,digits)")
    parser.add_argument("--users", type=int, default=32, help="concurrent clients (default: 32)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per server run (default: 15)")
    parser.add_argument("--batch", type=int, default=32, help="max batch size, and the raw loop's batch (default: 32)")
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        print("bench-server needs 2 CPUs: one for the server, one for the load generator", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {LOADGEN_CPU})  # this process is the load generator
    results = {
        "method": "closed-loop Locust clients sending one row each; server and raw loop pinned to CPU "
        f"{SERVER_CPU}, load generator to CPU {LOADGEN_CPU}; onnxruntime intra-op threads {THREADS}",
        "users": args.users,
        "duration_s": args.duration,
        "max_batch_size": args.batch,
        "models": {
            m: bench_model(args.model_repository, args.out.parent / "server", m, args.users, args.duration, args.batch)
            for m in args.models.split(",")
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = Table(title=f"bench-server ({args.users} clients, 1 thread, pinned) -> {args.out}")
    for column in ("model", "raw rows/s", "batching on", "batching off", "naive", "on/raw", "on/off", "on/naive"):
        table.add_column(column, justify="right")
    for model, r in results["models"].items():
        q = r["ratios"]
        table.add_row(
            model,
            f"{r['raw_rows_per_s']:.0f}",
            *(f"{r[k]['rps']:.0f}" for k in ("batching_on", "batching_off", "naive")),
            f"{q['batching_on_vs_raw']:.0%}",
            f"{q['batching_on_vs_off']:.2f}x",
            f"{q['batching_on_vs_naive']:.2f}x",
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
