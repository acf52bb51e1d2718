"""Per-model dynamic batching: merge concurrent requests into one onnxruntime run.

Each request is checked and encoded on its own first (`model.prepare`), so a bad input fails only its own
request. Prepared requests wait in a bounded FIFO queue. A single worker takes the oldest, gathers more until
the batch holds `max_batch_size` rows or `max_queue_delay` has passed since the OLDEST waiting request arrived
(Triton's rule: time spent waiting while the previous batch ran counts), runs the batch on the model's own
inference thread, and hands each request its rows back. A full queue is refused at once (503).

Batches run on the model's own thread, so that the event loop goes on reading requests meanwhile; a model whose
full batch runs faster than that hand-off costs (digits: tens of microseconds) runs its batches on the event loop.

A request larger than a batch is run in slices of `max_batch_size` rows, its remainder queued behind the
requests that arrived meanwhile, so it cannot hold the model alone. Rows of a request that is already
answered (timed out, cancelled) are skipped. When a merged run fails, its requests are run again one by one,
so only a request that fails on its own gets the error; failures are logged, and the worker always goes on.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from model_server.errors import InferenceTimeout, NotReady, QueueFull
from model_server.metrics import Metrics
from model_server.runtime import OnnxModel, Prepared

log = logging.getLogger(__name__)

PREPARE_ON_LOOP_ROWS = 16  # 16 short texts tokenize in about 1 ms
# A full batch that runs in less than this runs on the event loop: the hand-off to the model's thread and back
# (a future, two wake-ups) costs more CPU than such a run, and leaves the core idle in between.
INLINE_BELOW_S = 0.0005


@dataclass(eq=False)
class _Job:
    prepared: Prepared
    rows: int
    future: asyncio.Future
    arrived: float
    next_row: int = 0  # rows before it have been given to a batch
    outputs: list[dict[str, np.ndarray]] = field(default_factory=list)  # one per slice run so far

    @property
    def abandoned(self) -> bool:
        return self.future.done()


@dataclass(frozen=True)
class _Slice:
    job: _Job
    start: int
    stop: int

    @property
    def prepared(self) -> Prepared:
        if self.start == 0 and self.stop == self.job.rows:
            return self.job.prepared
        return {key: value[self.start : self.stop] for key, value in self.job.prepared.items()}


class Batcher:
    def __init__(
        self,
        model: OnnxModel,
        metrics: Metrics,
        max_batch_size: int,
        max_queue_delay_s: float,
        max_queue_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_queue_delay_s = max_queue_delay_s
        self.max_queue_size = max_queue_size
        self.clock = clock
        self._waiting: deque[_Job] = deque()
        self._arrival = asyncio.Event()
        # One thread per model: onnxruntime parallelizes inside a run; more runs at once would fight for cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{model.name}-{model.version}")
        self.inline = False  # batches on the event loop (calibrate)
        self._worker: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.model.name}")

    async def stop(self) -> None:
        """Finish the batch that is running, fail what still waits (503), stop the worker: one batch at most."""
        self._closing = True
        self._arrival.set()
        if self._worker:
            await asyncio.gather(self._worker, return_exceptions=True)
        for job in self._waiting:
            if not job.future.done():
                job.future.set_exception(NotReady(f"model {self.model.name!r} is shutting down"))
        self._waiting.clear()
        self.executor.shutdown(wait=True)

    def calibrate(self) -> None:
        """Choose where batches run: on the event loop when a full batch of the model's warm-up rows takes less
        than INLINE_BELOW_S (the best of 3 runs), else on the model's thread. Once, when the model has loaded."""
        parts = [self.model.prepare(self.model.warmup_inputs())] * self.max_batch_size
        best = min(_seconds(self.model.run, parts) for _ in range(3))
        self.inline = best < INLINE_BELOW_S
        where = "on the event loop" if self.inline else "on its own thread"
        name, version = self.model.name, self.model.version
        log.info("model %s version %s: a full batch takes %.0f µs: batches run %s", name, version, best * 1e6, where)

    async def infer(self, inputs: dict[str, np.ndarray], timeout_s: float) -> dict[str, np.ndarray]:
        # Raises InvalidInput for this request alone. A few rows encode in microseconds, on the event loop;
        # a large request goes to a thread, so that its tokenization does not stall every other client.
        if len(next(iter(inputs.values()))) <= PREPARE_ON_LOOP_ROWS:
            prepared = self.model.prepare(inputs)
        else:
            prepared = await asyncio.to_thread(self.model.prepare, inputs)
        if self._closing:
            raise NotReady(f"model {self.model.name!r} is shutting down")
        if len(self._waiting) >= self.max_queue_size:
            self._waiting = deque(job for job in self._waiting if not job.abandoned)
        if len(self._waiting) >= self.max_queue_size:
            raise QueueFull(f"model {self.model.name!r} is overloaded: {self.max_queue_size} requests queued")
        rows = len(next(iter(prepared.values())))
        job = _Job(prepared, rows, asyncio.get_running_loop().create_future(), self.clock())
        self._waiting.append(job)
        self._arrival.set()
        try:
            async with asyncio.timeout(timeout_s):
                return await job.future
        except TimeoutError:
            raise InferenceTimeout(f"model {self.model.name!r} did not answer within {timeout_s:g} s") from None
        finally:
            job.future.cancel()  # no-op when answered; otherwise the worker skips its rows

    def _next_live(self) -> _Job | None:
        while self._waiting:
            job = self._waiting.popleft()
            if not job.abandoned:
                return job
        return None

    async def _wait_for_arrival(self, timeout_s: float | None) -> bool:
        self._arrival.clear()
        try:
            async with asyncio.timeout(timeout_s):
                await self._arrival.wait()
        except TimeoutError:
            return False
        return True

    async def _gather(self) -> list[_Slice]:
        """The next batch: FIFO, whole requests where they fit, a too-large request in batch-sized slices."""
        batch: list[_Slice] = []
        rows = 0
        oldest = float("inf")
        while rows < self.max_batch_size and not self._closing:
            job = self._next_live()
            if job is None:
                if not batch:
                    await self._wait_for_arrival(None)
                    continue
                remaining = oldest + self.max_queue_delay_s - self.clock()
                if remaining <= 0 or not await self._wait_for_arrival(remaining):
                    break
                continue
            left = job.rows - job.next_row
            if batch and left > self.max_batch_size - rows:
                self._waiting.appendleft(job)  # first in the next batch: requests are not split to fill a gap
                break
            take = min(left, self.max_batch_size - rows)
            batch.append(_Slice(job, job.next_row, job.next_row + take))
            job.next_row += take
            rows += take
            oldest = min(oldest, job.arrived)
        return batch

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._execute(await self._gather())
            except Exception:  # model errors are handled in _execute; anything else must not end the worker either
                log.exception("batcher for model %s: unexpected error; continuing", self.model.name)

    async def _execute(self, batch: list[_Slice], retry: bool = False) -> None:
        batch = [part for part in batch if not part.job.abandoned]
        if not batch:
            return
        name, version = self.model.name, self.model.version
        started = self.clock()
        for part in batch:
            if part.start == 0 and not retry:
                self.metrics.queue_duration.labels(name, version).observe(started - part.job.arrived)
        try:
            outputs = await self._run_model(batch)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("model %s version %s: a run failed", name, version)
                self._fail(batch, exc)
                return
            # One request can break a merged run (a shape prepare did not catch, a model error on one input):
            # run each alone, so only the requests that fail on their own get the error.
            log.warning(
                "model %s version %s: a batch of %d failed (%s); running them one by one",
                name,
                version,
                len(batch),
                exc,
            )
            for part in batch:
                await self._execute([part], retry=True)
            return
        self.metrics.inference_duration.labels(name, version).observe(self.clock() - started)
        self.metrics.batch_size.labels(name, version).observe(sum(part.stop - part.start for part in batch))
        offset = 0
        for part in batch:
            size = part.stop - part.start
            job = part.job
            job.outputs.append({key: value[offset : offset + size] for key, value in outputs.items()})
            offset += size
            if part.stop < job.rows:
                self._waiting.append(job)  # its rest queues behind the requests that arrived during this run
            elif not job.future.done():
                job.future.set_result(
                    job.outputs[0]
                    if len(job.outputs) == 1
                    else {key: np.concatenate([o[key] for o in job.outputs]) for key in outputs}
                )

    async def _run_model(self, batch: list[_Slice]) -> dict[str, np.ndarray]:
        parts = [part.prepared for part in batch]
        if self.inline:
            return self.model.run(parts)
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.model.run, parts)

    @staticmethod
    def _fail(batch: list[_Slice], exc: Exception) -> None:
        for part in batch:
            if not part.job.future.done():
                part.job.future.set_exception(exc)


def _seconds(run: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    run(*args)
    return time.perf_counter() - started
