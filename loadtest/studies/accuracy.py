"""`python -m loadtest accuracy` (`make accuracy`): a model's quality measured through the serving path, per version.

A model card states the quality its builder measured in-process. This sends the same held-out data through a running
server (a local process, the Compose load balancer, the cluster's NodePort: any --host) with the v2 infer protocol,
scores the answers, and reports per version the quality measured, the card's figure and the median time of one request,
so that fp32 against int8, or big against small, is a latency-against-accuracy trade-off you measure:
- classifiers (digits, digits-large): accuracy on the builder's seeded held-out split, `rows` rows per request;
- minilm: the paraphrase margin (mean cosine of paraphrase pairs minus that of unrelated pairs) of served embeddings.
Requests go one at a time (quality, not load); each one's time includes the HTTP round trip.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 30


class AccuracyError(RuntimeError):
    """The server could not be asked (unreachable, unknown model, an error answer): one line for the user."""


def _call(url: str, body: dict | None = None) -> tuple[dict, float]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        raise AccuracyError(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise AccuracyError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
    return answer, time.perf_counter() - started


def served_versions(host: str, model: str) -> list[str]:
    meta, _ = _call(f"{host}/v2/models/{model}")
    return [str(v) for v in meta["versions"]]


def infer(host: str, model: str, version: str, tensor: dict) -> tuple[dict[str, Any], float]:
    """One v2 infer request; its outputs by name and its seconds."""
    answer, seconds = _call(f"{host}/v2/models/{model}/versions/{version}/infer", {"inputs": [tensor]})
    return {o["name"]: o["data"] for o in answer["outputs"]}, seconds


def classifier_accuracy(host: str, model: str, version: str, rows: int) -> dict:
    from model_server.builders.digits import FEATURES, split

    _, x_test, _, y_test = split()
    right, times = 0, []
    for start in range(0, len(y_test), rows):
        chunk = x_test[start : start + rows]
        tensor = {"name": "input", "datatype": "FP32", "shape": [len(chunk), FEATURES], "data": chunk.ravel().tolist()}
        outputs, seconds = infer(host, model, version, tensor)
        right += sum(int(a == b) for a, b in zip(outputs["label"], y_test[start : start + rows], strict=True))
        times.append(seconds)
    return {"metric": "accuracy", "value": right / len(y_test), "rows": len(y_test), "request_ms": times}


def paraphrase_margin(host: str, model: str, version: str) -> dict:
    import numpy as np

    from model_server.builders.minilm import PARAPHRASES, UNRELATED

    times: list[float] = []

    def cosines(pairs: list[tuple[str, str]]) -> np.ndarray:
        sides = []
        for texts in ([a for a, _ in pairs], [b for _, b in pairs]):
            tensor = {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}
            outputs, seconds = infer(host, model, version, tensor)
            times.append(seconds)
            sides.append(np.array(outputs["embedding"], dtype=np.float64).reshape(len(texts), -1))
        return (sides[0] * sides[1]).sum(axis=1)  # rows are unit vectors

    margin = float(cosines(PARAPHRASES).mean() - cosines(UNRELATED).mean())
    return {"metric": "paraphrase_cosine_margin", "value": margin, "rows": 4 * len(PARAPHRASES), "request_ms": times}


def measure(host: str, model: str, versions: list[str] | None, rows: int, cards: dict[str, dict]) -> list[dict]:
    """One row per version: quality through the server, the card's figure, median request time."""
    host = host.rstrip("/")
    found = []
    for version in versions or served_versions(host, model):
        result = (
            paraphrase_margin(host, model, version)
            if model == "minilm"
            else classifier_accuracy(host, model, version, rows)
        )
        card = cards.get(version, {})
        times = result.pop("request_ms")
        found.append(
            result
            | {
                "model": model,
                "version": version,
                "precision": card.get("precision"),
                "card_value": card.get("metrics", {}).get(result["metric"]),
                "median_request_ms": 1000 * statistics.median(times),
                "requests": len(times),
            }
        )
    return found
