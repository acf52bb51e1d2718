"""Checks that an inference answer is right, not just a 200.

Each check raises BadAnswer with a short, stable `kind` (used to group errors by type in the
summary) and a detail for the log. A 200 with a wrong shape, a NaN or a non-unit embedding is a
failure: a load test that counts it as a success measures the wrong thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIGITS_CLASSES = 10
EMBEDDING_DIM = 384
# Probabilities and L2 norms come back as FP32 rounded through JSON: allow for that.
TOLERANCE = 1e-3


class BadAnswer(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def _output(body: Any, name: str) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("outputs"), list):
        raise BadAnswer("no outputs", f"keys {sorted(body) if isinstance(body, dict) else type(body).__name__}")
    for out in body["outputs"]:
        if isinstance(out, dict) and out.get("name") == name:
            return out
    raise BadAnswer(f"missing output {name}")


def _tensor(out: dict, shape: list[int]) -> np.ndarray:
    if out.get("shape") != shape:
        raise BadAnswer(f"wrong shape for {out.get('name')}", f"{out.get('shape')} != {shape}")
    try:
        values = np.asarray(out.get("data"), dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as exc:
        raise BadAnswer(f"bad data for {out.get('name')}", str(exc)) from None
    if not np.isfinite(values).all():
        raise BadAnswer(f"non-finite {out.get('name')}")
    return values


def _check_labels(labels: np.ndarray) -> None:
    if ((labels < 0) | (labels >= DIGITS_CLASSES) | (labels != np.round(labels))).any():
        raise BadAnswer("label out of range", str(labels.tolist()[:5]))


def _check_unit_rows(rows: np.ndarray) -> None:
    norms = np.linalg.norm(rows, axis=1)
    if (np.abs(norms - 1.0) > TOLERANCE).any():
        raise BadAnswer("embedding norm not 1", f"norms {norms.round(4).tolist()[:5]}")


def check_model_name(body: Any, model: str) -> None:
    if isinstance(body, dict) and body.get("model_name") not in (None, model):
        raise BadAnswer("wrong model_name", f"{body.get('model_name')!r} != {model!r}")


def digits_v2(body: Any, model: str, rows: int, column: bool = False) -> None:
    check_model_name(body, model)
    labels = _tensor(_output(body, "label"), [rows, 1] if column else [rows]).reshape(rows)
    probs = _tensor(_output(body, "probabilities"), [rows, DIGITS_CLASSES])
    _check_labels(labels)
    if (probs < -TOLERANCE).any() or (np.abs(probs.sum(axis=1) - 1.0) > TOLERANCE).any():
        raise BadAnswer("probabilities do not sum to 1")
    if (probs.argmax(axis=1) != labels).any():
        raise BadAnswer("label is not the most probable class")


def minilm_v2(body: Any, model: str, rows: int) -> None:
    check_model_name(body, model)
    _check_unit_rows(_tensor(_output(body, "embedding"), [rows, EMBEDDING_DIM]))


def _predictions(body: Any, rows: int) -> list:
    preds = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(preds, list):
        raise BadAnswer("no predictions")
    if len(preds) != rows:
        raise BadAnswer("wrong number of predictions", f"{len(preds)} != {rows}")
    return preds


def digits_v1(body: Any, rows: int) -> None:
    preds = _predictions(body, rows)
    try:
        labels = np.asarray(preds, dtype=np.float64).reshape(rows)
    except (TypeError, ValueError) as exc:
        raise BadAnswer("bad predictions", str(exc)) from None
    _check_labels(labels)


def minilm_v1(body: Any, rows: int) -> None:
    preds = _predictions(body, rows)
    try:
        vectors = np.asarray(preds, dtype=np.float64).reshape(rows, EMBEDDING_DIM)
    except (TypeError, ValueError) as exc:
        raise BadAnswer("wrong embedding size", str(exc)) from None
    if not np.isfinite(vectors).all():
        raise BadAnswer("non-finite embedding")
    _check_unit_rows(vectors)
