"""Prometheus metrics, recorded at each stage of a request: HTTP, queue, inference, batch."""

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

# Latency buckets from 1 ms to 10 s: covers a digits MLP (sub-ms) up to a queued minilm batch under overload.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # process_resident_memory_bytes, process_cpu_seconds_total, python_gc_*: read by the autoscaling labs.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        self.requests = Counter(
            "model_server_requests",
            "Inference requests by model, version and HTTP status code.",
            ["model", "version", "code"],
            registry=r,
        )
        self.request_duration = Histogram(
            "model_server_request_duration_seconds",
            "Inference request latency, receipt to response.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_duration = Histogram(
            "model_server_queue_duration_seconds",
            "Time a request waited in the batching queue.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_duration = Histogram(
            "model_server_inference_duration_seconds",
            "onnxruntime time per batch, pre/post-processing included.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "model_server_batch_size",
            "Rows per onnxruntime run.",
            ["model", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("model_server_requests_in_flight", "HTTP requests being served.", registry=r)
        self.model_ready = Gauge(
            "model_server_model_ready",
            "1 when the model version is loaded and warmed.",
            ["model", "version"],
            registry=r,
        )
        self.intra_op_threads = Gauge(
            "model_server_onnxruntime_intra_op_threads",
            "onnxruntime intra-op threads per session.",
            registry=r,
        )
