"""The batcher's logic, with a stand-in model that records the batches it is given."""

import asyncio
import threading
import time

import numpy as np
import pytest

from model_server.batcher import Batcher
from model_server.errors import InferenceTimeout, QueueFull
from model_server.metrics import Metrics


class RecordingModel:
    name, version = "fake", "1"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay_s = delay_s
        self.release = threading.Event()
        self.release.set()

    def predict(self, inputs):
        self.release.wait(5)
        time.sleep(self.delay_s)
        x = inputs["x"]
        self.batches.append(len(x))
        return {"y": x * 2}


def run(coro):
    return asyncio.run(coro)


async def _with_batcher(model, body, **kw):
    settings = {"max_batch_size": 8, "max_queue_delay_s": 0.02, "max_queue_size": 64} | kw
    batcher = Batcher(model, Metrics(), **settings)
    batcher.start()
    try:
        return await body(batcher)
    finally:
        await batcher.stop()


def test_concurrent_requests_merge_and_each_gets_its_rows():
    model = RecordingModel()

    async def body(batcher):
        rows = [np.full((n, 1), i, dtype=np.float32) for i, n in enumerate([1, 2, 1, 3])]
        results = await asyncio.gather(*(batcher.infer({"x": r}, 5) for r in rows))
        for r, out in zip(rows, results):
            assert np.array_equal(out["y"], r * 2)

    run(_with_batcher(model, body))
    assert model.batches == [7]  # 1+2+1+3 rows in one run


def test_batch_never_exceeds_max_rows():
    model = RecordingModel()

    async def body(batcher):
        await asyncio.gather(*(batcher.infer({"x": np.ones((3, 1))}, 5) for _ in range(5)))

    run(_with_batcher(model, body, max_batch_size=8))
    assert sum(model.batches) == 15 and max(model.batches) <= 8


def test_batching_off_runs_one_request_at_a_time():
    model = RecordingModel()

    async def body(batcher):
        await asyncio.gather(*(batcher.infer({"x": np.ones((1, 1))}, 5) for _ in range(4)))

    run(_with_batcher(model, body, max_batch_size=1))
    assert model.batches == [1, 1, 1, 1]


def test_full_queue_refuses_at_once():
    model = RecordingModel()
    model.release.clear()  # hold the first batch inside the model

    async def body(batcher):
        first = asyncio.create_task(batcher.infer({"x": np.ones((1, 1))}, 5))
        await asyncio.sleep(0.05)  # the worker has taken it and is blocked in predict
        waiting = [asyncio.create_task(batcher.infer({"x": np.ones((1, 1))}, 5)) for _ in range(2)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        with pytest.raises(QueueFull):
            await batcher.infer({"x": np.ones((1, 1))}, 5)
        assert time.perf_counter() - started < 0.05
        model.release.set()
        await asyncio.gather(first, *waiting)

    run(_with_batcher(model, body, max_queue_size=2, max_batch_size=1))


def test_timeout_answers_and_worker_survives():
    model = RecordingModel(delay_s=0.3)

    async def body(batcher):
        with pytest.raises(InferenceTimeout):
            await batcher.infer({"x": np.ones((1, 1))}, 0.05)
        out = await batcher.infer({"x": np.ones((1, 1))}, 5)
        assert out["y"].tolist() == [[2.0]]

    run(_with_batcher(model, body))


def test_model_error_fails_its_requests_only():
    class Broken(RecordingModel):
        def predict(self, inputs):
            if (inputs["x"] < 0).any():
                raise RuntimeError("bad batch")
            return super().predict(inputs)

    async def body(batcher):
        with pytest.raises(RuntimeError):
            await batcher.infer({"x": -np.ones((1, 1))}, 5)
        assert (await batcher.infer({"x": np.ones((1, 1))}, 5))["y"].tolist() == [[2.0]]

    run(_with_batcher(Broken(), body, max_queue_delay_s=0))
