"""`python -m loadtest bench-server` (`make bench-server`): how close the model server gets to onnxruntime's limit.

For each model, side by side on the same machine and thread count, in one run:
- raw: in-process `predict` on full batches (tokenization and pooling included): the limit;
- server, batching on and batching off, under `users` closed-loop clients sending one row each;
- naive: the server people write first (loadtest.studies.naive_server: one request, one session.run).
The server (or the raw loop) runs on one core and the Locust load generator on another, both chosen from the
cores this process may use, so they do not steal each other's CPU time. `repeats` interleaves the
configurations (raw, on, off, naive, raw, on, ...) so that a noisy neighbour hits them alike; the table shows
medians. Latency percentiles are over successful requests, after a warm-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from loadtest import payloads
from loadtest.local_server import LocalServer
from model_server.cpus import pin, pinnable_cores, pinned
from model_server.repository import default_version, scan
from model_server.runtime import build_model, session_options

THREADS = 1  # onnxruntime intra-op threads everywhere: the server gets one core
# Targets for a model-bound model (minilm); digits inference takes microseconds, so HTTP bounds its server.
TARGET_MODELS = ("minilm",)
TARGET_P99_OVER_P50 = 2.5
TARGET_SERVER_OVER_RAW = 0.8


@dataclass(frozen=True)
class Placement:
    """Where the server (and raw loop) and the load generator run; None: not pinned (no affinity API)."""

    server: int | None
    loadgen: int | None

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (this system has no CPU affinity): server and load generator share the cores"
        return f"server and raw loop pinned to CPU {self.server}, load generator to CPU {self.loadgen}"


def place(usable: list[int] | None) -> Placement:
    """Server on the lowest usable core, load generator on the highest; `usable` None: no affinity API."""
    if usable is None:
        return Placement(None, None)
    if len(usable) < 2:
        raise ValueError(
            f"the benchmark needs 2 usable CPUs (one server, one load generator); this process has {usable}"
        )
    return Placement(min(usable), max(usable))


def _rows(model: str, count: int) -> list:
    rng = random.Random(0)
    if model == "minilm":
        return [payloads.make_text(rng, payloads.TEXT_PRESETS["short"]) for _ in range(count)]
    return payloads.make_digits_rows(rng, count)


def raw_limit(repository: Path, model_name: str, batch: int, seconds: float, cpu: int | None) -> dict:
    """Rows per second of `predict` on full batches, on the server's core, in this process; and per CPU second,
    which a neighbour taking part of the core does not lower."""
    import numpy as np

    versions = scan(repository, [model_name])[model_name]
    model = build_model(versions[default_version(versions)], session_options(THREADS, 1, "all"))
    model.load()
    spec = model.card.inputs[0]
    data = np.array(_rows(model_name, batch), dtype=object if spec.datatype == "BYTES" else np.float32)
    with pinned(cpu) if cpu is not None else contextlib.nullcontext():
        done, started, cpu_started = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds:
            model.predict({spec.name: data})
            done += batch
        wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return {"rows_per_s": done / wall, "rows_per_cpu_s": done / cpu_s, "cpu_share": cpu_s / wall}


@dataclass(frozen=True)
class Bench:
    """What one benchmark run does; the same for every model and configuration."""

    repository: Path
    out: Path  # the JSON file; server runs go to <out's folder>/server/<model>/<configuration>/trial-N
    users: int = 32
    duration: float = 15.0
    warmup: float = 3.0
    batch: int = 32
    repeats: int = 1
    where: Placement = Placement(None, None)


def served(bench: Bench, out: Path, model: str, server: LocalServer) -> dict:
    """Throughput and latency of one server (not started yet) under a closed-loop load of one row per request."""
    from loadtest.runner import RunConfig, run  # Locust: imported by the command, after its gevent patching

    out.mkdir(parents=True, exist_ok=True)
    with server:
        process = psutil.Process(server.proc.pid) if server.proc else None
        cpu_before, loadgen_before, wall_before = (
            process_cpu_seconds(process),
            loadgen_cpu_seconds(),
            time.perf_counter(),
        )
        config = RunConfig(
            host=server.url,
            out=out,
            profile=model,
            users=bench.users,
            duration=bench.duration,
            warmup=bench.warmup,
            text_length="short",
            v1_weight=0,
            progress=False,
        )
        summary = run(config)
        # The whole run (warm-up included): the share of a core the server got; below ~0.9 at saturation, a
        # neighbour took the rest, and rows per CPU second is the fairer comparison. The load generator's own
        # share shows whether it, rather than the server, was the limit (near 1.0: it was).
        wall = time.perf_counter() - wall_before
        cpu_share = (process_cpu_seconds(process) - cpu_before) / wall
        loadgen_cpu_share = (loadgen_cpu_seconds() - loadgen_before) / wall
    total = summary["total"]
    latency = total.get("latency_ms", {})
    p50, p99 = latency.get("p50", float("nan")), latency.get("p99", float("nan"))
    return {
        "rps": total["ok_rps"],
        "failures": total["failures"],
        "p50_ms": p50,
        "p99_ms": p99,
        "p99_over_p50": p99 / p50 if p50 else float("nan"),
        "cpu_share": cpu_share,
        "loadgen_cpu_share": loadgen_cpu_share,
        "rows_per_cpu_s": total["ok_rps"] / cpu_share if cpu_share else float("nan"),
        "latency_ms": latency,
        "load_generator_cpu_saturated": summary.get("load_generator_cpu_saturated"),
    }


def loadgen_cpu_seconds() -> float:
    """CPU seconds of this process alone (Locust runs in it): the servers it started are its children."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def process_cpu_seconds(process: psutil.Process | None) -> float:
    """CPU seconds of a process and its children, live ones included (PyTriton's tritonserver is a child)."""
    if process is None:
        return 0.0
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    times = process.cpu_times()
    return total + times.children_user + times.children_system


def configurations(model: str, users: int, batch: int) -> dict[str, tuple[str, list[str]]]:
    common = ["--models", model, "--intra-op-threads", str(THREADS), "--max-queue-size", str(4 * users)]
    return {
        "batching_on": ("model_server", [*common, "--max-batch-size", str(batch)]),
        "batching_off": ("model_server", [*common, "--max-batch-size", "1"]),
        "naive": ("loadtest.studies.naive_server", ["--model", model, "--threads", str(THREADS)]),
    }


def _median(trials: list[dict], key: str) -> float:
    return statistics.median(t[key] for t in trials)


def bench_model(bench: Bench, model: str) -> dict:
    configs = configurations(model, bench.users, bench.batch)
    raws: list[dict] = []
    trials: dict[str, list[dict]] = {name: [] for name in configs}
    for repeat in range(1, bench.repeats + 1):
        step = f"==> {model} [{repeat}/{bench.repeats}]"
        print(f"{step}: raw onnxruntime limit", flush=True)
        raws.append(raw_limit(bench.repository, model, bench.batch, min(bench.duration, 10), bench.where.server))
        for name, (module, args) in configs.items():
            print(f"{step}: {name} ({bench.users} users, {bench.duration:g} s)", flush=True)
            trial_out = bench.out.parent / "server" / model / name / f"trial-{repeat}"
            cpus = None if bench.where.server is None else str(bench.where.server)
            server = LocalServer(bench.repository, args, cpus=cpus, module=module, log_path=trial_out / "server.log")
            trials[name].append(served(bench, trial_out, model, server) | {"repeat": repeat - 1})
    return summarize(raws, trials)


def summarize(raws: list[dict], trials: dict[str, list[dict]]) -> dict:
    """Medians over the repeats (each trial's ratios use the raw limit measured in its own repeat)."""
    for runs in trials.values():
        for trial in runs:
            raw = raws[trial["repeat"]]
            trial["server_over_raw"] = trial["rps"] / raw["rows_per_s"]
            trial["server_over_raw_per_cpu_s"] = trial["rows_per_cpu_s"] / raw["rows_per_cpu_s"]
    result: dict = {
        "raw_rows_per_s": statistics.median(r["rows_per_s"] for r in raws),
        "raw_rows_per_cpu_s": statistics.median(r["rows_per_cpu_s"] for r in raws),
        "raw_trials": raws,
        "configs": {},
    }
    keys = ("rps", "p50_ms", "p99_ms", "p99_over_p50", "server_over_raw", "server_over_raw_per_cpu_s", "cpu_share")
    for name, runs in trials.items():
        result["configs"][name] = {key: _median(runs, key) for key in keys} | {
            "failures": sum(t["failures"] for t in runs),
            "trials": runs,
        }
    on = result["configs"]["batching_on"]
    result["ratios"] = {
        "batching_on_vs_raw": on["server_over_raw"],
        "batching_on_vs_off": on["rps"] / max(result["configs"]["batching_off"]["rps"], 1e-9),
        "batching_on_vs_naive": on["rps"] / max(result["configs"]["naive"]["rps"], 1e-9),
    }
    result["targets"] = {
        "p99_over_p50_max": TARGET_P99_OVER_P50,
        "server_over_raw_min": TARGET_SERVER_OVER_RAW,
        "met": on["p99_over_p50"] <= TARGET_P99_OVER_P50 and on["server_over_raw"] >= TARGET_SERVER_OVER_RAW,
    }
    return result


def print_table(results: dict, out: Path) -> None:
    table = Table(
        title=f"bench-server ({results['users']} clients, 1 thread; medians of {results['repeats']}) -> {out}"
    )
    columns = ("model", "configuration", "rows/s", "p50 ms", "p99 ms", "p99/p50", "server/raw", "per CPU-s", "CPU got")
    for column in columns:
        table.add_column(column, justify="right")
    for model, r in results["models"].items():
        raw_share = statistics.median(t["cpu_share"] for t in r["raw_trials"])
        table.add_row(
            model, "raw onnxruntime", f"{r['raw_rows_per_s']:.0f}", "", "", "", "100%", "100%", f"{raw_share:.2f}"
        )
        for name, c in r["configs"].items():
            table.add_row(
                model,
                name.replace("_", " "),
                f"{c['rps']:.0f}",
                f"{c['p50_ms']:.0f}",
                f"{c['p99_ms']:.0f}",
                f"{c['p99_over_p50']:.2f}",
                f"{c['server_over_raw']:.0%}",
                f"{c['server_over_raw_per_cpu_s']:.0%}",
                f"{c['cpu_share']:.2f}",
            )
    console = Console()
    (console if console.is_terminal else Console(width=120)).print(table)  # a log file gets the whole table
    print("per CPU-s: rows per CPU second against raw's; CPU got: cores the process used (1.00 = its whole core)")
    for model, r in results["models"].items():
        if model not in TARGET_MODELS:
            continue
        verdict = "met" if r["targets"]["met"] else "MISSED"
        print(
            f"{model}: batching on p99/p50 {r['configs']['batching_on']['p99_over_p50']:.2f} "
            f"(target <= {TARGET_P99_OVER_P50}), server/raw {r['ratios']['batching_on_vs_raw']:.0%} "
            f"(target >= {TARGET_SERVER_OVER_RAW:.0%}): {verdict}"
        )


def main(bench: Bench, models: list[str]) -> int:
    """Runs the benchmark and writes `bench.out` (JSON). Raises ValueError for a machine it cannot run on."""
    bench = dataclasses.replace(bench, where=place(pinnable_cores()))
    if bench.where.loadgen is not None:
        pin({bench.where.loadgen})  # this process is the load generator
    results = {
        "method": f"closed-loop Locust clients sending one row each, {bench.warmup:g} s warm-up; "
        f"{bench.where.describe()}; onnxruntime intra-op threads {THREADS}; "
        "configurations interleaved, medians of the repeats; latency over successful requests",
        "placement": {"server_cpu": bench.where.server, "loadgen_cpu": bench.where.loadgen},
        "users": bench.users,
        "duration_s": bench.duration,
        "warmup_s": bench.warmup,
        "max_batch_size": bench.batch,
        "repeats": bench.repeats,
        "models": {model: bench_model(bench, model) for model in models},
    }
    bench.out.parent.mkdir(parents=True, exist_ok=True)
    bench.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, bench.out)
    return 0
