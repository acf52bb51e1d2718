"""`python -m loadtest cpu-breakdown`: py-spy stacks sorted into serving stages, per request, for the server and
for it with one change undone."""

import json
import subprocess
import sys

import pytest

from loadtest.studies.cpu_breakdown import (
    OTHER,
    breakdown,
    py_spy,
    py_spy_error,
    read_stacks,
    stage_of,
    summarize,
    trial,
)

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


def test_one_run_gives_stages_that_sum_to_its_total_and_rows_per_cpu_second():
    text = f"{INFER};Session.run (onnxruntime/capi/x.py:1) 30\n{INFER};TextEmbeddingModel._embed (x:2) 10\n"
    text += f"{LOOP};APIRouter.app (fastapi/routing.py:2) 10\n{LOOP};epoll_pwait (libc.so.6) 50\n"
    result = trial(read_stacks(text), requests=100.0, cpu_seconds=0.5)  # 5,000 us per request
    assert result["stages_us"]["onnxruntime"] == pytest.approx(3000)
    assert sum(result["stages_us"].values()) == pytest.approx(result["total_us"]) == pytest.approx(5000)
    assert result["not_inference_us"] == pytest.approx(1000)  # onnxruntime and pooling are inference
    assert result["rows_per_cpu_s"] == pytest.approx(200) and result["requests"] == 100 and result["samples"] == 100


def test_a_window_with_nothing_to_divide_by_is_an_error_not_a_crash():
    busy = read_stacks(f"{LOOP};APIRouter.app (fastapi/routing.py:2) 10\n")
    with pytest.raises(ValueError, match="answered 0 requests"):
        trial(busy, requests=0.0, cpu_seconds=1.0)
    with pytest.raises(ValueError, match="no busy sample"):
        trial(read_stacks(f"{LOOP};epoll_pwait (libc.so.6) 50\n"), requests=10.0, cpu_seconds=1.0)


def _run(rows_per_cpu_s: float, stages: dict[str, float]) -> dict:
    total = sum(stages.values())
    return {"stages_us": stages, "total_us": total, "not_inference_us": total, "rows_per_cpu_s": rows_per_cpu_s}


def test_medians_per_variant_and_after_over_each_other_variant_within_each_repeat():
    before = [_run(100, {"gc": 60, "http": 40}), _run(50, {"gc": 80, "http": 40}), _run(90, {"gc": 70, "http": 50})]
    other = [_run(55, {"http": 40}), _run(30, {"http": 40}), _run(45, {"http": 50})]
    after = [_run(110, {"http": 40}), _run(60, {"gc": 20, "http": 60}), _run(90, {"gc": 10, "http": 50})]
    result = summarize({"unfrozen": before, "fastapi-routes": other, "after": after})
    assert result["variants"]["unfrozen"]["stages_us"] == {"gc": 70, "http": 40}
    assert result["variants"]["after"]["stages_us"] == {"http": 50, "gc": 10}  # absent from a repeat: 0 there
    assert result["variants"]["after"]["total_us"] == 60 and result["variants"]["unfrozen"]["rows_per_cpu_s"] == 90
    # Repeat 2 ran on a busier machine: both variants slowed, their ratio did not.
    assert result["after_over"]["unfrozen"]["per_repeat"] == pytest.approx([1.1, 1.2, 1.0])
    assert result["after_over"]["unfrozen"]["rows_per_cpu_s"] == pytest.approx(1.1)
    assert result["after_over"]["fastapi-routes"]["per_repeat"] == pytest.approx([2.0, 2.0, 2.0])
    assert set(result["after_over"]) == {"unfrozen", "fastapi-routes"}
    assert "after_over" not in summarize({"after": after})
    assert "after_over" not in summarize({"unfrozen": before})


def test_a_py_spy_without_ptrace_permission_says_why_in_one_line():
    denied = "Permission Denied: Try running again with elevated permissions by going 'sudo env \"PATH=$PATH\" !!'\n"
    message = py_spy_error(denied, "1")
    assert message.startswith("py-spy could not sample the server: Permission Denied") and "\n" not in message
    assert "kernel.yama.ptrace_scope is 1" in message and "sysctl kernel.yama.ptrace_scope=0" in message
    no_yama = py_spy_error(denied, None)
    assert "run as root" in no_yama and "sysctl" not in no_yama
    assert "until the next reboot" in py_spy_error(denied, "3") and "sysctl" not in py_spy_error(denied, "3")
    other = py_spy_error("\nError: Failed to get process executable name.\n\nStack backtrace:\n  0: x\n", "0")
    assert other == "py-spy could not sample the server: Error: Failed to get process executable name."


def test_a_real_py_spy_that_fails_gives_a_value_error_with_its_reason():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its PID now names no process
    with pytest.raises(ValueError, match=r"^py-spy could not sample the server: .*process") as failed:
        py_spy("dump", "--pid", str(gone.pid), timeout=30)
    assert "\n" not in str(failed.value)


def test_an_unknown_variant_is_one_line_before_any_server_starts(loadtest, tmp_path):
    result = loadtest("cpu-breakdown", "--variants", "after,during", "--out", str(tmp_path / "b.json"), timeout=60)
    assert (
        result.returncode == 2
        and result.stderr
        == "error: --variants after,during: choose from unfrozen, fastapi-routes, threaded-batches, after\n"
    )
    assert not (tmp_path / "cpu-breakdown").exists()


@pytest.mark.slow
def test_cpu_breakdown_measures_every_variant_of_a_real_server(loadtest, models_dir, tmp_path):
    out = tmp_path / "breakdown.json"
    args = ["--models", "digits", "--repeats", "1", "--duration", "3", "--warmup", "1"]
    args += ["--variants", "unfrozen,fastapi-routes,threaded-batches,after"]
    result = loadtest("cpu-breakdown", "--model-repository", str(models_dir), "--out", str(out), *args, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "| garbage collection" in result.stdout and "after / fastapi-routes" in result.stdout  # the Markdown table
    digits = json.loads(out.read_text())["models"]["digits"]
    undone = ("unfrozen", "fastapi-routes", "threaded-batches")
    assert set(digits["variants"]) == {*undone, "after"}
    assert all(digits["after_over"][variant]["rows_per_cpu_s"] > 0 for variant in undone)
    for variant in (*undone, "after"):
        (run,) = digits["variants"][variant]["trials"]
        assert run["requests"] > 0 and run["cpu_seconds"] > 0 and run["samples"] > 0 and run["failures"] == 0
        assert sum(run["stages_us"].values()) == pytest.approx(run["total_us"])
        assert run["total_us"] == pytest.approx(run["cpu_seconds"] * 1e6 / run["requests"])
        assert run["stages_us"].get("onnxruntime", 0) < 0.05 * run["total_us"]  # digits inference takes microseconds
        # Each variant ran through the launcher with its own change undone, and only that one.
        log = (tmp_path / "cpu-breakdown" / "digits" / variant / "trial-1" / "server.log").read_text()
        for change in undone:
            assert (f"variant_server: {change}:" in log) == (variant == change)
        # digits runs its batches on the event loop, unless that change is undone.
        assert ("batches run on the event loop" in log) == (variant != "threaded-batches")
