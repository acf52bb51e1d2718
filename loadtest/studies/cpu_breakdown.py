"""`python -m loadtest cpu-breakdown` (`make cpu-breakdown`): where a request's CPU goes, before and after a change.

Per model, variant and repeat: our server (batching on, as bench-server runs it) pinned to one core with one
onnxruntime thread, under bench-server's closed-loop Locust load from another core; after the warm-up,
`py-spy record --native --format raw` samples the server for `duration` seconds. N (requests answered with 200,
from /metrics) and S (the server's CPU seconds, from /proc) are read just before py-spy starts and just after it
ends, so they cover its window. Each sample goes to the stage of its deepest frame that names one (garbage
collection is a stage of its own: it runs inside whatever allocated); samples of a thread that waits (epoll, a
queue, a condition) are left out. The shares of the busy samples, times S / N, give microseconds per request.

Variants: `after` is the server as it is; each other variant is the same server with one change undone, started
through a benchmark launcher (loadtest.studies.variant_server). Their order rotates from one repeat to the next
so that a noisy neighbour hits them alike; N / S (rows per CPU second: one row per request) of `after` over a
variant's, within each repeat, is that change's own effect. The table shows medians over the repeats; the JSON
has every repeat.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sysconfig
import time
from collections import Counter
from pathlib import Path

import psutil
from rich import box
from rich.console import Console
from rich.table import Table

from loadtest.local_server import LocalServer
from loadtest.studies import server_metrics
from loadtest.studies.bench_peers import rotated
from loadtest.studies.bench_server import THREADS, Bench, configurations, place, process_cpu_seconds
from loadtest.studies.variant_server import UNDO
from model_server.cpus import pin, pinnable_cores

RATE_HZ = 100  # py-spy samples per second
SLACK_S = 2.0  # load beyond py-spy's window: its attach (well under a second here) and exit
AFTER = "after"  # the server as it is; every other variant undoes one change (loadtest.studies.variant_server)
VARIANTS = [*UNDO, AFTER]

# Frames of a thread that is waiting, not working (py-spy without --idle still reports some).
IDLE = ("epoll_pwait", "epoll_wait", "pthread_cond_wait", "pthread_cond_timedwait", "_queue_SimpleQueue_get")
OTHER = "event loop and the rest (uvloop, asyncio)"
# Stage: substrings of a frame that belongs to it. A frame is tested against the stages in this order.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("garbage collection", ("gc_collect",)),  # native frames only: GC runs inside whatever allocated
    ("onnxruntime", ("Session.run", "onnxruntime_pybind11")),
    ("padding, pooling, normalization", ("._embed (",)),
    ("batch assembly (sort, concatenate, slice)", ("Model.run (model_server/runtime",)),
    ("tokenization", ("encode_batch", "Model.prepare (model_server/runtime", "tokenizers")),
    ("response encoding", ("infer_response", "responses.py", "orjson", "JSONResponse.__init__", "render (")),
    ("protocol checks (request_arrays)", ("request_arrays", "_to_array", "_check_texts", "requested_outputs")),
    (
        "body read, JSON decode, pydantic",
        (
            *("request_body_to_args", "read_body (model_server/lean_route", "validate_json", "validate_python"),
            *("model_validate", "Request.body", "Request.json", "json.loads"),
        ),
    ),
    ("batcher", ("batcher.py",)),
    ("metrics, middleware", ("middleware.py", "prometheus_client")),
    ("HTTP parsing and writing", ("httptools_impl", "connections.py", "data_received", "transport.write", "UVStream")),
    ("thread hand-offs", ("concurrent/futures", "run_in_executor", "call_soon_threadsafe", "_chain_future")),
    ("routing, dependencies (FastAPI, Starlette)", ("starlette", "fastapi", "solve_dependencies")),
)


def read_stacks(text: str) -> Counter[str]:
    """py-spy's raw format: one `frame;frame;...;leaf COUNT` per line."""
    stacks: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def stage_of(stack: str) -> str | None:
    """The stage of the deepest frame that names one; None for a waiting thread."""
    frames = stack.split(";")
    if any(key in frame for frame in frames[-6:] for key in IDLE):
        return None
    for frame in reversed(frames):
        for stage, keys in STAGES:
            if any(key in frame for key in keys):
                return stage
    return OTHER


def breakdown(stacks: Counter[str], requests: int, cpu_seconds: float) -> dict[str, float]:
    """Microseconds of CPU per request for each stage, largest first."""
    busy: Counter[str] = Counter()
    for stack, count in stacks.items():
        stage = stage_of(stack)
        if stage is not None:
            busy[stage] += count
    total = sum(busy.values())
    per_request_us = cpu_seconds * 1e6 / requests
    return {stage: per_request_us * count / total for stage, count in busy.most_common()}


INFERENCE = ("onnxruntime", "padding, pooling, normalization")  # the rest is "not inference"


def trial(stacks: Counter[str], requests: float, cpu_seconds: float) -> dict:
    """One run's figures: µs of CPU per request by stage, their total, the part that is not inference, rows per CPU
    second. ValueError when the window holds nothing to divide by."""
    if requests <= 0 or cpu_seconds <= 0:
        raise ValueError(f"the server answered {requests:g} requests with {cpu_seconds:g} CPU s while py-spy sampled")
    stages = breakdown(stacks, int(requests), cpu_seconds)
    if not stages:
        raise ValueError("py-spy recorded no busy sample of the server")
    total = sum(stages.values())
    return {
        "requests": int(requests),
        "cpu_seconds": cpu_seconds,
        "samples": sum(stacks.values()),
        "stages_us": stages,
        "total_us": total,
        "not_inference_us": total - sum(stages.get(stage, 0.0) for stage in INFERENCE),
        "rows_per_cpu_s": requests / cpu_seconds,
    }


def summarize(trials: dict[str, list[dict]]) -> dict:
    """Medians over the repeats per variant (a stage absent from a repeat counts 0 there); `after` over each other
    variant in rows per CPU second, within each repeat, and their median."""
    result: dict = {"variants": {}}
    for variant, runs in trials.items():
        names = {stage for run in runs for stage in run["stages_us"]}
        stages = {stage: statistics.median(run["stages_us"].get(stage, 0.0) for run in runs) for stage in names}
        result["variants"][variant] = {
            "stages_us": dict(sorted(stages.items(), key=lambda item: -item[1])),
            **{key: statistics.median(run[key] for run in runs) for key in ("total_us", "not_inference_us")},
            "rows_per_cpu_s": statistics.median(run["rows_per_cpu_s"] for run in runs),
            "trials": runs,
        }
    for variant, runs in trials.items():
        if variant == AFTER or AFTER not in trials:
            continue
        ratios = [a["rows_per_cpu_s"] / b["rows_per_cpu_s"] for b, a in zip(runs, trials[AFTER], strict=True)]
        result.setdefault("after_over", {})[variant] = {
            "rows_per_cpu_s": statistics.median(ratios),
            "per_repeat": ratios,
        }
    return result


# What kernel.yama.ptrace_scope allows (0: any process of the same user may attach).
PTRACE_SCOPES = {
    "1": "only a process's ancestors may attach, and py-spy is the server's sibling",
    "2": "only root (CAP_SYS_PTRACE) may attach",
    "3": "no process may attach until the next reboot",
}


def py_spy_error(stderr: str, ptrace_scope: str | None) -> str:
    """One line for a py-spy that failed: its own first line, and why it may not attach and what to do."""
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "no message")
    message = f"py-spy could not sample the server: {first}"
    if "permission" in stderr.lower() or "not permitted" in stderr.lower():
        message += "; it needs ptrace permission over the server process"
        if ptrace_scope in PTRACE_SCOPES:
            message += f" and kernel.yama.ptrace_scope is {ptrace_scope} ({PTRACE_SCOPES[ptrace_scope]})"
        message += ": run as root (in a container: --cap-add SYS_PTRACE)"
        if ptrace_scope in ("1", "2"):
            message += " or allow it with `sudo sysctl kernel.yama.ptrace_scope=0`"
    return message


def _ptrace_scope() -> str | None:
    try:
        return Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:  # no Yama: ptrace's plain rules (the same user, or root)
        return None


def py_spy(*args: str, timeout: float) -> None:
    """Runs py-spy (the one next to this Python first); ValueError with a one-line reason when it fails."""
    search = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    exe = shutil.which("py-spy", path=search)
    if exe is None:
        raise ValueError("py-spy is not installed: `make setup` (it is in the loadtest extra)")
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ValueError(f"py-spy {args[0]} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        raise ValueError(py_spy_error(done.stderr, _ptrace_scope()))


def answered(url: str) -> float:
    """Requests the server has answered with 200, all models."""
    return server_metrics.total(server_metrics.scrape(url), "model_server_requests_total", code="200")


def sample(server: LocalServer, bench: Bench, stacks: Path) -> dict:
    """Runs beside the load (a greenlet): after the warm-up, py-spy's window; N, S and its wall time."""
    assert server.proc is not None
    process = psutil.Process(server.proc.pid)
    time.sleep(bench.warmup)  # gevent's sleep: the load runs meanwhile
    requests, cpu, started = answered(server.url), process_cpu_seconds(process), time.perf_counter()
    duration = str(int(bench.duration))
    py_spy("record", "--native", "--rate", str(RATE_HZ), "--duration", duration, "--format", "raw",
           "--output", str(stacks), "--pid", str(server.proc.pid), timeout=bench.duration + 60)  # fmt: skip
    return {
        "requests": answered(server.url) - requests,
        "cpu_seconds": process_cpu_seconds(process) - cpu,
        # S over this is the share of its core the server got: py-spy pauses it to read each sample.
        "window_s": time.perf_counter() - started,
    }


def measure(bench: Bench, model: str, variant: str, out: Path) -> dict:
    """One run: a fresh server of the variant under load, sampled after the warm-up."""
    import gevent

    from loadtest.runner import RunConfig, run  # Locust: imported by the command, after its gevent patching

    _, args = configurations(model, bench.users, bench.batch)["batching_on"]
    args = [*args, "--drain-seconds", "0"]  # stopped after its load: nothing to drain
    cpus = None if bench.where.server is None else str(bench.where.server)
    module = "model_server" if variant == AFTER else "loadtest.studies.variant_server"
    args += [] if variant == AFTER else ["--undo", variant]
    server = LocalServer(bench.repository, args, cpus=cpus, module=module, log_path=out / "server.log")
    with server:
        assert server.proc is not None
        py_spy("dump", "--pid", str(server.proc.pid), timeout=60)  # one that cannot attach says why before the load
        sampler = gevent.spawn(sample, server, bench, out / "stacks.txt")
        config = RunConfig(
            host=server.url,
            out=out,
            profile=model,
            users=bench.users,
            duration=bench.duration + SLACK_S,
            warmup=bench.warmup,
            text_length="short",
            v1_weight=0,
            progress=False,
        )
        summary = run(config)
        if not sampler.ready():
            sampler.kill()
            raise ValueError(f"py-spy took over {SLACK_S:g} s beyond --duration: its window outlasted the load")
        window = sampler.get()  # the sampler's error, if any, is raised here
    stacks = read_stacks((out / "stacks.txt").read_text())
    return trial(stacks, window["requests"], window["cpu_seconds"]) | {
        "window_s": window["window_s"],
        "failures": summary["total"]["failures"],
    }


def bench_model(bench: Bench, model: str, variants: list[str]) -> dict:
    trials: dict[str, list[dict]] = {variant: [] for variant in variants}
    for repeat in range(bench.repeats):
        for variant in rotated(variants, repeat):
            print(f"==> {model} [{repeat + 1}/{bench.repeats}]: {variant} ({bench.users} users)", flush=True)
            out = bench.out.parent / "cpu-breakdown" / model / variant / f"trial-{repeat + 1}"
            trials[variant].append(measure(bench, model, variant, out) | {"repeat": repeat})
    return summarize(trials)


def print_table(results: dict, out: Path) -> None:
    """Markdown, to paste into loadtest/README.md."""
    columns = [(model, variant) for model, r in results["models"].items() for variant in r["variants"]]

    def cell(model: str, variant: str) -> dict:
        return results["models"][model]["variants"][variant]

    total: Counter[str] = Counter()
    for model, variant in columns:
        total.update(cell(model, variant)["stages_us"])
    table = Table(
        title=f"µs of CPU per request, medians of {results['repeats']} ({results['users']} clients) -> {out}",
        box=box.MARKDOWN,
    )
    table.add_column("stage (µs of CPU per request)")
    for model, variant in columns:
        table.add_column(f"{model} {variant}", justify="right")
    for stage, _ in total.most_common():
        table.add_row(stage, *(f"{cell(m, v)['stages_us'].get(stage, 0.0):.0f}" for m, v in columns))
    table.add_row("**total**", *(f"**{cell(m, v)['total_us']:.0f}**" for m, v in columns))
    table.add_row(
        "not inference (all but onnxruntime and pooling)",
        *(f"{cell(m, v)['not_inference_us']:.0f}" for m, v in columns),
    )
    table.add_row("rows per CPU second", *(f"{cell(m, v)['rows_per_cpu_s']:.0f}" for m, v in columns))
    for baseline in dict.fromkeys(v for r in results["models"].values() for v in r.get("after_over", {})):
        ratios = []
        for model, variant in columns:
            ratio = results["models"][model].get("after_over", {}).get(baseline)
            each = ", ".join(f"{r:.2f}" for r in ratio["per_repeat"]) if ratio else ""
            ratios.append(f"{ratio['rows_per_cpu_s']:.2f}x ({each})" if ratio and variant == AFTER else "")
        table.add_row(f"after / {baseline}, rows per CPU second (each repeat)", *ratios)
    console = Console()
    (console if console.is_terminal else Console(width=200)).print(table)  # a log file gets the whole table


def main(bench: Bench, models: list[str], variants: list[str]) -> int:
    """Runs the breakdown and writes `bench.out` (JSON). Raises ValueError for what it cannot run."""
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        raise ValueError(f"--variants {','.join(variants)}: choose from {', '.join(VARIANTS)}")
    bench = dataclasses.replace(bench, where=place(pinnable_cores()))
    if bench.where.loadgen is not None:
        pin({bench.where.loadgen})  # this process is the load generator (and py-spy, its child)
    results = {
        "method": f"closed-loop Locust clients sending one row each, {bench.warmup:g} s warm-up, then py-spy "
        f"--native --rate {RATE_HZ} for {int(bench.duration)} s; {bench.where.describe()}; onnxruntime intra-op "
        f"threads {THREADS}; variants' order rotated over the repeats; medians of the repeats",
        "placement": {"server_cpu": bench.where.server, "loadgen_cpu": bench.where.loadgen},
        "load_average": os.getloadavg(),
        "users": bench.users,
        "duration_s": int(bench.duration),
        "warmup_s": bench.warmup,
        "max_batch_size": bench.batch,
        "repeats": bench.repeats,
        "variants": {variant: UNDO[variant][0] if variant in UNDO else "the server as it is" for variant in variants},
        "models": {model: bench_model(bench, model, variants) for model in models},
    }
    bench.out.parent.mkdir(parents=True, exist_ok=True)
    bench.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, bench.out)
    return 0
