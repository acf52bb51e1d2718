"""Lab 01: a client for the model server that uses only the Python standard library.

    python labs/01-serve/client.py                        # against `make serve` on 127.0.0.1:8000
    python labs/01-serve/client.py --url http://127.0.0.1:8080 --requests 50

It sends three handwritten digits (a 0, a 1 and a 7 from scikit-learn's digits data) once through the v2
`infer` route and once through the v1 `:predict` route, times one request of each, then sends `--requests`
more and reads from `/metrics` how much of that time the server spent queueing and running the model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request

# 8x8 images, pixel values 0..16, row by row: the format of the `digits` model's "input" tensor [N, 64].
SAMPLES: dict[int, list[int]] = {
    0: [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
        0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0],
    1: [0, 0, 0, 12, 13, 5, 0, 0, 0, 0, 0, 11, 16, 9, 0, 0, 0, 0, 3, 15, 16, 6, 0, 0, 0, 7, 15, 16, 16, 2, 0, 0,
        0, 0, 1, 16, 16, 3, 0, 0, 0, 0, 1, 16, 16, 6, 0, 0, 0, 0, 1, 16, 16, 6, 0, 0, 0, 0, 0, 11, 16, 10, 0, 0],
    7: [0, 0, 7, 8, 13, 16, 15, 1, 0, 0, 7, 7, 4, 11, 12, 0, 0, 0, 0, 0, 8, 13, 1, 0, 0, 4, 8, 8, 15, 15, 6, 0,
        0, 2, 11, 15, 15, 4, 0, 0, 0, 0, 0, 16, 5, 0, 0, 0, 0, 0, 9, 15, 1, 0, 0, 0, 0, 0, 13, 5, 0, 0, 0, 0],
}  # fmt: skip

QUEUE = "model_server_queue_duration_seconds"
INFERENCE = "model_server_inference_duration_seconds"
REQUEST = "model_server_request_duration_seconds"


class ClientError(Exception):
    """A one-line reason why a request failed."""


def _send(request: urllib.request.Request, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise ClientError(f"{request.get_method()} {request.full_url} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise ClientError(f"cannot connect to {request.full_url}: {exc.reason} (is `make serve` running?)") from None


def post_json(url: str, body: dict, timeout: float = 10.0) -> dict:
    """POSTs `body` as JSON and returns the decoded JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    return json.loads(_send(request, timeout))


def get_text(url: str, timeout: float = 10.0) -> str:
    return _send(urllib.request.Request(url), timeout).decode()


def infer_v2(base_url: str, model: str, rows: list[list[int]]) -> list[int]:
    """Open Inference Protocol v2: one request carrying every row; returns the predicted label of each row."""
    labels: list[int] = []
    # BEGIN SOLUTION (lab 01): POST the rows as FP32 tensor "input" [N, 64] to /v2/models/{model}/infer; return "label"
    flat = [float(value) for row in rows for value in row]
    tensor = {"name": "input", "shape": [len(rows), len(rows[0])], "datatype": "FP32", "data": flat}
    answer = post_json(f"{base_url.rstrip('/')}/v2/models/{model}/infer", {"inputs": [tensor]})
    outputs = {output["name"]: output for output in answer["outputs"]}
    labels = [int(label) for label in outputs["label"]["data"]]
    # END SOLUTION
    return labels


def predict_v1(base_url: str, model: str, rows: list[list[int]]) -> list[int]:
    """KServe v1: `{"instances": rows}` in, `{"predictions": [...]}` out (the model's first output, the label)."""
    labels: list[int] = []
    # BEGIN SOLUTION (lab 01): POST {"instances": rows} to /v1/models/{model}:predict; return "predictions" as ints
    answer = post_json(f"{base_url.rstrip('/')}/v1/models/{model}:predict", {"instances": rows})
    labels = [int(label) for label in answer["predictions"]]
    # END SOLUTION
    return labels


def histogram_totals(metrics_text: str, metric: str, model: str) -> tuple[float, float]:
    """(sum of `<metric>_sum`, sum of `<metric>_count`) over every series of `model`, all versions together."""
    total, count = 0.0, 0.0
    # BEGIN SOLUTION (lab 01): add up the values of the <metric>_sum and <metric>_count lines of model="<model>"
    for line in metrics_text.splitlines():
        if line.startswith("#") or f'model="{model}"' not in line:
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        if name == f"{metric}_sum":
            total += float(value)
        elif name == f"{metric}_count":
            count += float(value)
    # END SOLUTION
    return total, count


def timed(call, *args) -> tuple[list[int], float]:
    """Runs `call(*args)`; returns its result and the wall-clock milliseconds it took."""
    start = time.perf_counter()
    result = call(*args)
    return result, (time.perf_counter() - start) * 1000


def server_means_ms(before: str, after: str, model: str) -> dict[str, float]:
    """Mean milliseconds per observation of each histogram between two /metrics scrapes."""
    means = {}
    for metric in (REQUEST, QUEUE, INFERENCE):
        sum_before, count_before = histogram_totals(before, metric, model)
        sum_after, count_after = histogram_totals(after, metric, model)
        count = count_after - count_before
        means[metric] = 1000 * (sum_after - sum_before) / count if count else float("nan")
    return means


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server root (default: %(default)s)")
    parser.add_argument("--model", default="digits", help="a digits-style model (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=20, help="requests to average over (default: %(default)s)")
    args = parser.parse_args(argv)
    url, model = args.url.rstrip("/"), args.model
    expected, rows = list(SAMPLES), list(SAMPLES.values())
    try:
        v2_labels, v2_ms = timed(infer_v2, url, model, rows)
        v1_labels, v1_ms = timed(predict_v1, url, model, rows)
        print(f"v2 infer   {model}: labels {v2_labels} (expected {expected}), one request {v2_ms:.2f} ms")
        print(f"v1 predict {model}: labels {v1_labels} (expected {expected}), one request {v1_ms:.2f} ms")
        before = get_text(f"{url}/metrics")
        client_ms = [timed(infer_v2, url, model, rows[:1])[1] for _ in range(args.requests)]
        after = get_text(f"{url}/metrics")
    except (ClientError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    means = server_means_ms(before, after, model)
    client = statistics.mean(client_ms)
    rest = means[REQUEST] - means[QUEUE] - means[INFERENCE]
    print(f"\n{args.requests} sequential v2 requests of one row each, mean per request:")
    for label, ms in (
        (f"client, end to end (median {statistics.median(client_ms):.3f} ms)", client),
        (f"server, receipt to response ({REQUEST})", means[REQUEST]),
        (f"  waiting in the batch queue ({QUEUE})", means[QUEUE]),
        (f"  running the model ({INFERENCE})", means[INFERENCE]),
        ("  the rest of the server: routing, validation, JSON", rest),
        ("outside the server: HTTP, TCP, client-side JSON", client - means[REQUEST]),
    ):
        print(f"  {label:<72} {ms:8.3f} ms")
    if v2_labels != expected or v1_labels != expected:
        print("error: a label is wrong (is the model a digits classifier?)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
