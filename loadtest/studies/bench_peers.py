"""`python -m loadtest bench-peers` (`make bench-peers`): our server against MLServer and Triton (PyTriton).

The servers a user would pick instead of ours, each with its own dynamic batching, serve the same model of our
repository with our own model code (loadtest.studies.peers), so only the serving stack differs. Each runs in
its own virtualenv, installed on first use (.venv-peers/<name>). Per model and repeat: the raw onnxruntime
limit, then every server under the same closed-loop Locust load as bench-server (one row per request,
keep-alive), the server pinned to one core with one onnxruntime thread and the load generator to another.
The servers' order rotates from one repeat to the next, so a noisy neighbour hits them alike; ratios are
ours over each peer within a repeat (measured side by side), and the table shows medians.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loadtest import preflight
from loadtest.local_server import LocalServer
from loadtest.studies.bench_server import THREADS, Bench, configurations, place, raw_limit, served
from loadtest.studies.peers import PEERS, REPO_ROOT, Peer, PeerError, ensure_venv
from model_server.cpus import pin, pinnable_cores

OURS = "ours"
KEYS = ("rps", "p50_ms", "p99_ms", "p99_over_p50", "cpu_share", "loadgen_cpu_share", "rows_per_cpu_s")


def rotated(names: list[str], repeat: int) -> list[str]:
    """The servers' order in a repeat: each takes each position in turn."""
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


def _server(bench: Bench, name: str, model: str, python: str | None, out: Path) -> LocalServer:
    cpus = None if bench.where.server is None else str(bench.where.server)
    if name == OURS:
        module, args = configurations(model, bench.users, bench.batch)["batching_on"]
        return LocalServer(bench.repository, args, cpus=cpus, module=module, log_path=out / "server.log")
    assert python is not None
    workdir = out.resolve() / "workdir"
    shutil.rmtree(workdir, ignore_errors=True)  # an earlier run's: PyTriton refuses a workspace that exists
    args = ["--models", model, "--max-batch-size", str(bench.batch), "--max-queue-delay-ms", "5"]
    args += ["--intra-op-threads", str(THREADS), "--workdir", str(workdir)]
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    return LocalServer(
        bench.repository.resolve(),
        args,
        cpus=cpus,
        module=PEERS[name].module,
        python=python,
        env=env,
        log_path=out / "server.log",
        ready_path=f"/v2/models/{model}/ready",
        ready_timeout=300,  # tritonserver and MLServer start slower than ours
    )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def bench_model(bench: Bench, model: str, pythons: dict[str, str], errors: dict[str, str]) -> dict:
    names = [OURS, *pythons]
    raws: list[dict] = []
    trials: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(bench.repeats):
        step = f"==> {model} [{repeat + 1}/{bench.repeats}]"
        print(f"{step}: raw onnxruntime limit", flush=True)
        raws.append(raw_limit(bench.repository, model, bench.batch, min(bench.duration, 10), bench.where.server))
        for name in rotated(names, repeat):
            if name in errors:
                continue
            print(f"{step}: {name} ({bench.users} users, {bench.duration:g} s)", flush=True)
            out = bench.out.parent / "peers" / model / name / f"trial-{repeat + 1}"
            server = _server(bench, name, model, pythons.get(name), out)
            try:
                trials[name].append(served(bench, out, model, server) | {"repeat": repeat})
            except preflight.TargetError as exc:  # a peer that cannot run here: say why, keep the others
                errors[name] = f"`{' '.join(server.command())}`: {exc}; log: {_tail(out / 'server.log')}"
                print(f"    {name} skipped: {errors[name]}", flush=True)
    return summarize(raws, {name: runs for name, runs in trials.items() if runs})


def summarize(raws: list[dict], trials: dict[str, list[dict]]) -> dict:
    """Medians per server; ours over each peer per repeat (same run), then the median of those ratios."""
    result: dict = {
        "raw_rows_per_s": statistics.median(r["rows_per_s"] for r in raws),
        "raw_rows_per_cpu_s": statistics.median(r["rows_per_cpu_s"] for r in raws),
        "raw_trials": raws,
        "servers": {},
        "ratios": {},
    }
    for name, runs in trials.items():
        medians = {key: statistics.median(t[key] for t in runs) for key in KEYS}
        over_raw = statistics.median(t["rps"] / raws[t["repeat"]]["rows_per_s"] for t in runs)
        per_cpu_s = statistics.median(t["rows_per_cpu_s"] / raws[t["repeat"]]["rows_per_cpu_s"] for t in runs)
        result["servers"][name] = medians | {
            "over_raw": over_raw,
            "over_raw_per_cpu_s": per_cpu_s,  # what a neighbour taking part of the core does not change
            "failures": sum(t["failures"] for t in runs),
            "trials": runs,
        }
    ours = {t["repeat"]: t for t in trials.get(OURS, [])}
    for name, runs in trials.items():
        pairs = [(ours[t["repeat"]], t) for t in runs if name != OURS and t["repeat"] in ours]
        if pairs:
            result["ratios"][f"{OURS}_vs_{name}"] = {
                "rps": statistics.median(a["rps"] / b["rps"] for a, b in pairs),
                "p99": statistics.median(a["p99_ms"] / b["p99_ms"] for a, b in pairs),
                # Rows per CPU second: what a neighbour taking part of the core does not change.
                "rows_per_cpu_s": statistics.median(a["rows_per_cpu_s"] / b["rows_per_cpu_s"] for a, b in pairs),
                "repeats": len(pairs),
            }
    return result


def print_table(results: dict, out: Path) -> None:
    table = Table(title=f"bench-peers ({results['users']} clients, 1 thread; medians of {results['repeats']}) -> {out}")
    columns = ("model", "server", "rows/s", "p50 ms", "p99 ms", "ours/this rps", "ours/this p99", "of raw")
    for column in (*columns, "server CPU", "ours/this per CPU-s", "of raw per CPU-s", "loadgen CPU"):
        table.add_column(column, justify="right")
    for model, r in results["models"].items():
        table.add_row(
            model, "raw onnxruntime", f"{r['raw_rows_per_s']:.0f}", "", "", "", "", "100%", "", "", "100%", ""
        )
        for name, s in r["servers"].items():
            ratio = r["ratios"].get(f"{OURS}_vs_{name}")
            table.add_row(
                model,
                name,
                f"{s['rps']:.0f}",
                f"{s['p50_ms']:.0f}",
                f"{s['p99_ms']:.0f}",
                f"{ratio['rps']:.2f}" if ratio else "",
                f"{ratio['p99']:.2f}" if ratio else "",
                f"{s['over_raw']:.1%}",
                f"{s['cpu_share']:.2f}",
                f"{ratio['rows_per_cpu_s']:.2f}" if ratio else "",
                f"{s['over_raw_per_cpu_s']:.1%}",
                f"{s['loadgen_cpu_share']:.2f}",
            )
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(table)  # a log gets the whole table
    print("ours/this: our median over this server's, each repeat side by side; CPU: cores used (1.00 = a whole core)")
    for name, error in results["errors"].items():
        print(f"{name}: not run: {error}")


def main(bench: Bench, models: list[str], peers: list[str], venvs: Path) -> int:
    """Installs the peers (once), runs the benchmark, writes `bench.out` (JSON). ValueError: cannot run here."""
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    bench = dataclasses.replace(bench, where=place(pinnable_cores()))
    errors: dict[str, str] = {}
    pythons: dict[str, str] = {}
    for name in peers:
        peer: Peer = PEERS[name]
        try:
            pythons[name] = str(ensure_venv(peer, venvs))
        except PeerError as exc:
            errors[name] = str(exc)
            print(f"    {name} skipped: {exc}", flush=True)
    if bench.where.loadgen is not None:
        pin({bench.where.loadgen})  # this process is the load generator
    results: dict = {
        "method": f"closed-loop Locust clients sending one row each (keep-alive), {bench.warmup:g} s warm-up, "
        f"{bench.duration:g} s measured; {bench.where.describe()}; onnxruntime intra-op threads {THREADS} in every "
        "server; servers' order rotated over the repeats; ratios ours/peer within each repeat, then medians; "
        "latency over successful requests",
        "placement": {"server_cpu": bench.where.server, "loadgen_cpu": bench.where.loadgen},
        "load_average": os.getloadavg(),
        "users": bench.users,
        "duration_s": bench.duration,
        "warmup_s": bench.warmup,
        "max_batch_size": bench.batch,
        "repeats": bench.repeats,
        "batching": {OURS: f"--max-batch-size {bench.batch}, --max-queue-delay-ms 0 (the default)"}
        | {name: PEERS[name].batching for name in peers},
        "errors": errors,
        "models": {},
    }
    for model in models:
        results["models"][model] = bench_model(bench, model, pythons, errors)
    results["load_average_after"] = os.getloadavg()
    bench.out.parent.mkdir(parents=True, exist_ok=True)
    bench.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, bench.out)
    return 0
