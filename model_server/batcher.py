"""Per-model dynamic batching: merge concurrent requests into one onnxruntime run.

Requests wait in a bounded queue. A single worker takes the first waiting request, gathers more until the
batch holds `max_batch_size` rows or `max_queue_delay` has passed, runs the batch on the model's own
inference thread, and hands each request its rows back. While a batch runs, new requests queue up, so under
load batches fill without waiting. A full queue is refused at once (503): latency stays bounded.
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from model_server.errors import InferenceTimeout, QueueFull
from model_server.metrics import Metrics
from model_server.runtime import OnnxModel


@dataclass
class _Job:
    inputs: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(
        self, model: OnnxModel, metrics: Metrics, max_batch_size: int, max_queue_delay_s: float, max_queue_size: int
    ) -> None:
        self.model = model
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_queue_delay_s = max_queue_delay_s
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queue_size)
        # One thread per model: onnxruntime parallelizes inside a run; more runs at once would fight for cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{model.name}-{model.version}")
        self._carry: _Job | None = None
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.model.name}")

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self.executor.shutdown(wait=True)

    async def infer(self, inputs: dict[str, np.ndarray], timeout_s: float) -> dict[str, np.ndarray]:
        rows = len(next(iter(inputs.values())))
        job = _Job(inputs, rows, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull(f"model {self.model.name!r} is overloaded: {self.queue.maxsize} requests queued") from None
        try:
            async with asyncio.timeout(timeout_s):  # on expiry the job's future is cancelled: the worker skips it
                return await job.future
        except TimeoutError:
            raise InferenceTimeout(f"model {self.model.name!r} did not answer within {timeout_s:g} s") from None

    async def _next_job(self, timeout_s: float | None) -> _Job | None:
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if timeout_s is None:
            return await self.queue.get()
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            if timeout_s <= 0:
                return None
        try:
            async with asyncio.timeout(timeout_s):
                return await self.queue.get()  # a cancelled get leaves the item in the queue
        except TimeoutError:
            return None

    async def _gather(self) -> list[_Job]:
        batch = [await self._next_job(None)]
        rows = batch[0].rows
        deadline = time.perf_counter() + self.max_queue_delay_s
        while rows < self.max_batch_size:
            job = await self._next_job(deadline - time.perf_counter())
            if job is None:
                break
            if rows + job.rows > self.max_batch_size:
                self._carry = job
                break
            batch.append(job)
            rows += job.rows
        return [job for job in batch if not job.future.done()]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        name, version = self.model.name, self.model.version
        while True:
            batch = await self._gather()
            if not batch:
                continue
            started = time.perf_counter()
            for job in batch:
                self.metrics.queue_duration.labels(name, version).observe(started - job.enqueued)
            merged = {key: np.concatenate([job.inputs[key] for job in batch]) for key in batch[0].inputs}
            try:
                outputs = await loop.run_in_executor(self.executor, self.model.predict, merged)
            except Exception as exc:  # a failed run fails its requests, not the worker
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.metrics.inference_duration.labels(name, version).observe(time.perf_counter() - started)
            self.metrics.batch_size.labels(name, version).observe(sum(job.rows for job in batch))
            offset = 0
            for job in batch:
                if not job.future.done():
                    job.future.set_result({k: v[offset : offset + job.rows] for k, v in outputs.items()})
                offset += job.rows
