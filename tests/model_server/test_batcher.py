"""The batcher's logic, with a stand-in model that records the batches it is given (pure logic: no session)."""

import asyncio
import threading
import time

import numpy as np
import pytest

from model_server.batcher import Batcher
from model_server.errors import InferenceTimeout, NotReady, QueueFull
from model_server.metrics import Metrics

WAIT_S = 5  # upper bound for anything awaited below; every wait ends on an event long before it


class RecordingModel:
    """Doubles its input. `gate` cleared holds a run inside the model; `entered` says a run has started."""

    name, version = "fake", "1"

    def __init__(self) -> None:
        self.batches: list[int] = []  # rows of every run, in order
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def prepare(self, inputs):
        return {"x": inputs["x"]}

    def run(self, parts):
        self.entered.set()
        assert self.gate.wait(WAIT_S), "the test never opened the gate"
        x = np.concatenate([part["x"] for part in parts])
        self.batches.append(len(x))
        if (x < 0).any():
            raise RuntimeError("negative input")
        return {"y": x * 2}

    def predict(self, inputs):  # the interface before prepare/run: lets this file run against the old batcher
        return self.run([inputs])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rows(n: int, value: float = 1.0) -> dict[str, np.ndarray]:
    return {"x": np.full((n, 1), value, dtype=np.float32)}


async def entered(model: RecordingModel) -> None:
    """Wait (off the event loop) until the model has started a run."""
    assert await asyncio.to_thread(model.entered.wait, WAIT_S), "no batch reached the model"
    model.entered.clear()


def run(model, body, **kw):
    async def main():
        settings = {"max_batch_size": 8, "max_queue_delay_s": 0.02, "max_queue_size": 64} | kw
        batcher = Batcher(model, Metrics(), **settings)
        batcher.start()
        try:
            return await body(batcher)
        finally:
            model.gate.set()
            await batcher.stop()

    return asyncio.run(main())


def test_concurrent_requests_merge_and_each_gets_its_rows():
    model = RecordingModel()

    async def body(batcher):
        inputs = [rows(n, i) for i, n in enumerate([1, 2, 1, 3])]
        results = await asyncio.gather(*(batcher.infer(x, WAIT_S) for x in inputs))
        for x, out in zip(inputs, results, strict=True):
            assert np.array_equal(out["y"], x["x"] * 2)

    run(model, body)
    assert model.batches == [7]  # 1+2+1+3 rows in one run


def test_batch_never_exceeds_max_rows():
    model = RecordingModel()

    async def body(batcher):
        await asyncio.gather(*(batcher.infer(rows(3), WAIT_S) for _ in range(5)))

    run(model, body, max_batch_size=8)
    assert sum(model.batches) == 15 and max(model.batches) <= 8


def test_batching_off_runs_one_request_at_a_time():
    model = RecordingModel()

    async def body(batcher):
        await asyncio.gather(*(batcher.infer(rows(1), WAIT_S) for _ in range(4)))

    run(model, body, max_batch_size=1)
    assert model.batches == [1, 1, 1, 1]


def test_full_queue_refuses_at_once():
    model = RecordingModel()
    model.gate.clear()  # hold the first batch inside the model

    async def body(batcher):
        first = asyncio.create_task(batcher.infer(rows(1), WAIT_S))
        await entered(model)  # the worker has taken it and is held in the model
        waiting = [asyncio.create_task(batcher.infer(rows(1), WAIT_S)) for _ in range(2)]
        await asyncio.sleep(0)  # let both join the queue
        with pytest.raises(QueueFull):
            await batcher.infer(rows(1), WAIT_S)  # refused without awaiting anything: no timeout involved
        model.gate.set()
        await asyncio.gather(first, *waiting)

    run(model, body, max_queue_size=2, max_batch_size=1)


def test_timeout_answers_and_worker_survives():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        with pytest.raises(InferenceTimeout):
            await batcher.infer(rows(1), 0.05)
        model.gate.set()
        assert (await batcher.infer(rows(1), WAIT_S))["y"].tolist() == [[2.0]]

    run(model, body)


def test_a_failing_request_fails_alone_in_a_shared_batch():
    """A bad request and good ones in ONE batch: the run fails, the batcher finds the culprit, the rest succeed."""
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        blocker = asyncio.create_task(batcher.infer(rows(1), WAIT_S))
        await entered(model)  # while it runs, the next three queue up and form one batch
        tasks = [asyncio.create_task(batcher.infer(x, WAIT_S)) for x in (rows(1), rows(1, -1), rows(2))]
        await asyncio.sleep(0)
        model.gate.set()
        await blocker
        return await asyncio.gather(*tasks, return_exceptions=True)

    good, bad, good2 = run(model, body)
    assert model.batches[:2] == [1, 4], "the three requests did not share a batch"
    assert isinstance(bad, RuntimeError)
    assert good["y"].tolist() == [[2.0]] and good2["y"].tolist() == [[2.0], [2.0]]


def test_inputs_of_different_widths_do_not_kill_the_worker():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        blocker = asyncio.create_task(batcher.infer(rows(1), WAIT_S))
        await entered(model)
        wide = asyncio.create_task(batcher.infer({"x": np.ones((1, 3), dtype=np.float32)}, WAIT_S))
        narrow = asyncio.create_task(batcher.infer(rows(1), WAIT_S))
        await asyncio.sleep(0)
        model.gate.set()
        await asyncio.gather(blocker, wide, narrow, return_exceptions=True)
        return await batcher.infer(rows(1), WAIT_S)  # the worker still runs

    assert run(model, body)["y"].tolist() == [[2.0]]


def test_queue_delay_counts_from_the_oldest_arrival():
    """Triton's rule: a request that waited while the previous batch ran is not held back another full delay."""
    model, clock = RecordingModel(), FakeClock()
    model.gate.clear()

    async def body(batcher):
        full = asyncio.create_task(batcher.infer(rows(2), WAIT_S))  # a full batch leaves at once
        await entered(model)
        late = asyncio.create_task(batcher.infer(rows(1), WAIT_S))  # arrives at t=0 while the model is busy
        await asyncio.sleep(0)
        clock.now = 100.0  # ... and has waited far longer than the 60 s delay when the model frees up
        model.gate.set()
        await full
        await late  # the wrong rule would hold it another 60 s: it would time out after WAIT_S
        pair = [asyncio.create_task(batcher.infer(rows(1), WAIT_S)) for _ in range(2)]
        await asyncio.gather(*pair)  # a fresh request does wait for company: both share a batch

    run(model, body, max_batch_size=2, max_queue_delay_s=60, clock=clock)
    assert model.batches == [2, 1, 2]


def test_rows_of_an_abandoned_request_are_skipped():
    """A request larger than a batch runs in slices; once it has timed out, its remaining slices never run."""
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        with pytest.raises(InferenceTimeout):
            await batcher.infer(rows(6), 0.05)  # 3 slices of 2 rows; held in the first until it times out
        model.gate.set()
        assert (await batcher.infer(rows(1), WAIT_S))["y"].tolist() == [[2.0]]

    run(model, body, max_batch_size=2)
    assert model.batches == [2, 1]


def test_a_large_request_is_sliced_and_interleaves_with_small_ones():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        large = asyncio.create_task(batcher.infer(rows(5, 3), WAIT_S))
        await entered(model)  # its first slice runs; a small request arrives meanwhile
        small = asyncio.create_task(batcher.infer(rows(1, 7), WAIT_S))
        await asyncio.sleep(0)
        model.gate.set()
        return await large, await small

    large, small = run(model, body, max_batch_size=2, max_queue_delay_s=0)
    assert large["y"].tolist() == [[6.0]] * 5 and small["y"].tolist() == [[14.0]]
    assert model.batches == [2, 1, 2, 1]  # slice, the small request, then the large one's rest


def test_stop_finishes_the_running_batch_and_fails_the_rest():
    """Shutdown takes one batch at most: what still waits gets 503, not a run."""
    model = RecordingModel()
    model.gate.clear()

    async def main():
        batcher = Batcher(model, Metrics(), max_batch_size=2, max_queue_delay_s=0, max_queue_size=8)
        batcher.start()
        running = asyncio.create_task(batcher.infer(rows(2), WAIT_S))
        await entered(model)
        queued = asyncio.create_task(batcher.infer(rows(6), WAIT_S))
        await asyncio.sleep(0)
        stopping = asyncio.create_task(batcher.stop())
        model.gate.set()
        await asyncio.wait_for(stopping, WAIT_S)
        assert (await running)["y"].shape == (2, 1)
        with pytest.raises(NotReady):
            await asyncio.wait_for(queued, WAIT_S)

    asyncio.run(main())
    assert model.batches == [2]


class TimedModel(RecordingModel):
    """Takes `seconds` per run, and records the thread each run ran on."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.threads: list[int] = []

    def warmup_inputs(self):
        return rows(1)

    def run(self, parts):
        self.threads.append(threading.get_ident())
        time.sleep(self.seconds)
        return super().run(parts)


@pytest.mark.parametrize(("seconds", "inline"), [(0.0, True), (0.003, False)])
def test_calibrate_runs_a_fast_model_on_the_event_loop_and_a_slow_one_on_its_thread(seconds, inline):
    model = TimedModel(seconds)

    async def body(batcher):
        await asyncio.get_running_loop().run_in_executor(batcher.executor, batcher.calibrate)
        assert model.batches == [8, 8, 8]  # three full batches of the warm-up rows
        model.threads.clear()
        results = await asyncio.gather(*(batcher.infer(rows(1, i), WAIT_S) for i in range(4)))
        assert [float(r["y"][0, 0]) for r in results] == [0.0, 2.0, 4.0, 6.0]
        return batcher.inline

    assert run(model, body) is inline
    loop_thread = threading.get_ident()  # asyncio.run ran the loop on this thread
    assert model.threads and all((thread == loop_thread) == inline for thread in model.threads)
