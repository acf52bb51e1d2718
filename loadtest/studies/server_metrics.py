"""What the server says about itself: figures from two scrapes of its Prometheus `/metrics`.

The studies put these next to client latency, so a table shows how much of a request's time is the
model (onnxruntime), how much is waiting for a batch, and how much CPU the server spent per request.
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base_url: str, timeout: float = 15.0) -> Samples:
    """/metrics parsed; a server still busy with the end of a run may take seconds to answer, hence the timeout."""
    url = f"{base_url.rstrip('/')}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return parse(resp.read().decode())
    except (OSError, TimeoutError) as exc:  # URLError is an OSError
        raise ValueError(f"could not read {url} within {timeout:g} s: {exc}") from None


def parse(text: str) -> Samples:
    """Prometheus text format -> {(sample name, labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


@dataclass(frozen=True)
class ServerFigures:
    requests: float  # inference requests answered, any status
    queue_ms: float  # mean wait in the batching queue, per request
    inference_ms: float  # mean onnxruntime time per batch run (pre/post-processing included)
    batch_rows: float  # mean rows per batch run
    cpu_ms_per_request: float  # server process CPU time (all threads) per request; NaN without process metrics


def between(before: Samples, after: Samples, model: str, version: str) -> ServerFigures:
    """Figures for one model version over the interval between two scrapes."""

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    def ratio(num: float, den: float, scale: float = 1.0) -> float:
        return num / den * scale if den > 0 else math.nan

    mv = {"model": model, "version": version}
    requests = delta("model_server_requests_total", **mv)
    cpu = delta("process_cpu_seconds_total") if any(n == "process_cpu_seconds_total" for n, _ in after) else math.nan
    return ServerFigures(
        requests=requests,
        queue_ms=ratio(
            delta("model_server_queue_duration_seconds_sum", **mv),
            delta("model_server_queue_duration_seconds_count", **mv),
            1000,
        ),
        inference_ms=ratio(
            delta("model_server_inference_duration_seconds_sum", **mv),
            delta("model_server_inference_duration_seconds_count", **mv),
            1000,
        ),
        batch_rows=ratio(delta("model_server_batch_size_sum", **mv), delta("model_server_batch_size_count", **mv)),
        cpu_ms_per_request=ratio(cpu, requests, 1000),
    )
