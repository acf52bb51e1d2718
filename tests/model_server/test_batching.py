"""Batching with the real minilm model: a bad text fails alone; a large request cannot hold up shutdown."""

import asyncio
import json
import random
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from loadtest import payloads, preflight
from model_server.batcher import Batcher
from model_server.errors import InvalidInput
from model_server.metrics import Metrics
from model_server.repository import scan
from model_server.runtime import TextEmbeddingModel, build_model, session_options

LONE_SURROGATE = "\ud800"  # valid JSON ("\ud800" escape), but not Unicode: the tokenizer refuses it
GOOD = ["a cat sat on the mat", "model serving with batches", "hello world", "one more sentence here"]


@pytest.fixture(scope="module")
def minilm(models_dir) -> TextEmbeddingModel:
    model = build_model(scan(models_dir, ["minilm"])["minilm"]["1"], session_options(1, 1, "all"))
    assert isinstance(model, TextEmbeddingModel)
    model.load()
    return model


def test_a_bad_text_fails_alone_in_a_real_batch(minilm):
    alone = {text: minilm.predict({"text": np.array([text], dtype=object)})["embedding"][0] for text in GOOD}
    runs: list[int] = []
    run = minilm.run

    def recording_run(parts):
        runs.append(sum(len(p["token_ids"]) for p in parts))
        return run(parts)

    async def main():
        batcher = Batcher(minilm, Metrics(), max_batch_size=4, max_queue_delay_s=5, max_queue_size=64)
        batcher.start()
        try:
            texts = [GOOD[0], GOOD[1], LONE_SURROGATE, GOOD[2], GOOD[3]]
            calls = [batcher.infer({"text": np.array([t], dtype=object)}, 30) for t in texts]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await batcher.stop()

    minilm.run = recording_run  # type: ignore[method-assign]  # count the rows of each run, then restore
    try:
        results = asyncio.run(main())
    finally:
        del minilm.run
    assert isinstance(results[2], InvalidInput), results[2]
    assert "row 0" in str(results[2]) and "Unicode" in str(results[2])
    good = [r for i, r in enumerate(results) if i != 2]
    for text, result in zip([GOOD[0], GOOD[1], GOOD[2], GOOD[3]], good, strict=True):
        assert not isinstance(result, BaseException), result
        np.testing.assert_allclose(result["embedding"][0], alone[text], atol=1e-5)
    assert runs == [4], "the four good texts should have run together, once"


def test_bad_text_gets_400_and_concurrent_clients_are_unaffected(start_server):
    server = start_server("--models", "minilm", "--max-queue-delay-ms", "200", "--intra-op-threads", "1")
    url = f"{server.url}/v2/models/minilm/infer"

    def body(text: str) -> bytes:  # json.dumps escapes the surrogate as \ud800, as a hostile client would
        return json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}).encode()

    texts = [GOOD[i % len(GOOD)] for i in range(12)] + [LONE_SURROGATE]
    barrier = threading.Barrier(len(texts))

    def post(text: str) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return client.post(url, content=body(text), headers={"content-type": "application/json"})

    with ThreadPoolExecutor(len(texts)) as pool:
        responses = list(pool.map(post, texts))
    assert responses[-1].status_code == 400, responses[-1].text
    assert [r.status_code for r in responses[:-1]] == [200] * 12, [r.text for r in responses if r.status_code != 200]


def test_sigterm_during_a_large_request_exits_within_its_timeout_plus_one_batch(start_server):
    """The large request times out (504) and its remaining slices are dropped, so shutdown does not wait for them.

    Before: its 1,024 texts ran as one onnxruntime call of many seconds, and the process waited for all of it."""
    server = start_server(
        "--models", "minilm", "--intra-op-threads", "1", "--max-batch-size", "8",
        "--request-timeout-s", "1", "--max-request-rows", "1024",
    )  # fmt: skip
    rng = random.Random(0)
    texts = [payloads.make_text(rng, payloads.TEXT_PRESETS["long"]) for _ in range(1024)]
    body = {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, f"{server.url}/v2/models/minilm/infer", json=body, timeout=60)
        started = preflight.poll(lambda: True if batches_started(server.url) else None, timeout=30, interval=0.05)
        assert started, "the large request never reached the model"
        sigterm = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        exited_after = time.monotonic() - sigterm
        assert answer.result().status_code == 504
    # drain 0 s + what is left of the 1 s timeout + one batch of 8 texts, with room for a busy machine
    assert exited_after < 4, f"exit took {exited_after:.1f} s after SIGTERM"


def batches_started(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    match = re.search(
        r'^model_server_queue_duration_seconds_count\{model="minilm",version="1"\} (\S+)$', text, re.MULTILINE
    )
    return float(match[1]) if match else 0.0
