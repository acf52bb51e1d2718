"""Where a request's CPU goes: py-spy's raw stacks of the server under load, sorted into serving stages.

    py-spy record -p SERVER_PID --native --rate 100 --duration 15 --format raw -o stacks.txt
    python -m loadtest.studies.cpu_breakdown stacks.txt --requests N --cpu-seconds S

N and S are the requests the server answered and the CPU seconds it used while py-spy sampled (from
/metrics and /proc). Each sample goes to the stage of its deepest frame that names one (garbage collection
is a stage of its own: it runs inside whatever allocated); samples of a thread that waits (epoll, a queue,
a condition) are left out. The shares of the busy samples, times S / N, give microseconds per request.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

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
        ("request_body_to_args", "validate_json", "validate_python", "Request.body", "Request.json", "json.loads"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--requests", type=int, required=True, help="requests answered while sampling")
    parser.add_argument("--cpu-seconds", type=float, required=True, help="server CPU seconds while sampling")
    args = parser.parse_args()
    result = breakdown(read_stacks(args.stacks.read_text()), args.requests, args.cpu_seconds)
    print(f"{sum(result.values()):.0f} us of CPU per request")
    for stage, us in result.items():
        print(f"  {stage:62} {us:7.0f} us")


if __name__ == "__main__":
    main()
