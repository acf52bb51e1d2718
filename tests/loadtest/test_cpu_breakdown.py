"""loadtest.studies.cpu_breakdown: py-spy stacks sorted into serving stages, per request."""

import pytest

from loadtest.studies.cpu_breakdown import OTHER, breakdown, read_stacks, stage_of

LOOP = "run_forever (loop.c:1);Loop__run (loop.c:2)"
INFER = "Thread._bootstrap (threading.py:1);_worker (concurrent/futures/thread.py:83);_WorkItem.run (x:1)"


def test_the_deepest_frame_that_names_a_stage_decides():
    route = f"{LOOP};APIRoute.handle (fastapi/routing.py:1);infer (model_server/api_v2.py:79)"
    assert stage_of(f"{route};request_arrays (model_server/protocol.py:1)") == "protocol checks (request_arrays)"
    assert stage_of(f"{route};APIRouter.app (fastapi/routing.py:2)") == "routing, dependencies (FastAPI, Starlette)"
    run = f"{INFER};TextEmbeddingModel.run (model_server/runtime.py:1)"
    assert stage_of(f"{run};TextEmbeddingModel._embed (model_server/runtime.py:2)") == "padding, pooling, normalization"
    assert stage_of(f"{run};TextEmbeddingModel._embed (x);Session.run (onnxruntime/capi/x.py:1)") == "onnxruntime"
    # A collection started by a route's allocation is the collector's time, not the route's.
    assert stage_of(f"{route};gc_collect_main (libpython3.11.so.1.0)") == "garbage collection"
    assert stage_of(f"{LOOP};Handle._run (asyncio)") == OTHER


def test_waiting_threads_are_left_out():
    assert stage_of(f"{LOOP};uv__io_poll (linux.c:1);epoll_pwait (libc.so.6)") is None
    assert stage_of("_worker (concurrent/futures/thread.py:81);_queue_SimpleQueue_get (_queuemodule.c.h:1)") is None


def test_microseconds_per_request_from_the_busy_shares():
    text = f"{INFER};Session.run (onnxruntime/capi/x.py:1) 30\n{LOOP};APIRouter.app (fastapi/routing.py:2) 10\n"
    text += f"{LOOP};epoll_pwait (libc.so.6) 50\n"
    result = breakdown(read_stacks(text), requests=100, cpu_seconds=0.4)  # 4,000 us per request
    assert list(result) == ["onnxruntime", "routing, dependencies (FastAPI, Starlette)"]  # largest first
    assert result["onnxruntime"] == pytest.approx(3000) and sum(result.values()) == pytest.approx(4000)
