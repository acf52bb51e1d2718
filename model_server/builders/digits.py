"""digits: a scikit-learn MLP on the 8x8 digits data that ships inside scikit-learn.

Version 1 is the fp32 ONNX export; version 2 is the same network dynamically quantized to int8 weights.
Every random choice is seeded, so the build is the same each time.
"""

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import skl2onnx
import sklearn
from onnxruntime.quantization import QuantType, quantize_dynamic
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from model_server.builders.cards import write_card

SEED = 0
OPSET = 17
FEATURES = 64
# name -> (hidden layers, training iterations). digits-large is wide enough that int8 is measurably faster
# at batch 1 (the optimization lab needs that); its fixed iteration budget keeps `make models` short.
VARIANTS = {"digits": ((64,), 300), "digits-large": ((2048, 2048, 2048), 20)}


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, x_test, y_train, y_test): the seeded, stratified split every digits model and study uses."""
    x, y = load_digits(return_X_y=True)
    return train_test_split(x.astype(np.float32), y, test_size=0.25, random_state=SEED, stratify=y)


def onnx_accuracy(model_path: Path, x: np.ndarray, y: np.ndarray) -> float:
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    (labels,) = session.run(["label"], {"input": x})
    return float((labels == y).mean())


def train(hidden: tuple[int, ...], max_iter: int) -> onnx.ModelProto:
    """Trains one seeded MLP on the training split; returns its ONNX export (input, outputs label and probabilities)."""
    x_train, _, y_train, _ = split()
    mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, random_state=SEED, early_stopping=False)
    # One BLAS thread: with more, matrix sums run in another order and the weights (so the hash) change with
    # the machine's core count and the thread settings of whoever runs the build. A fixed iteration budget is
    # the point for the large variant, so no convergence warning.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    onx = skl2onnx.to_onnx(
        mlp,
        initial_types=[("input", FloatTensorType([None, FEATURES]))],
        target_opset=OPSET,
        options={id(mlp): {"zipmap": False}},
    )
    # skl2onnx lists the opsets from a set, in an order that follows the hash seed: sort them, same bytes each time.
    opsets = sorted(onx.opset_import, key=lambda o: o.domain)
    del onx.opset_import[:]
    onx.opset_import.extend(opsets)
    return onx


def build(out: Path, name: str) -> list[dict]:
    hidden, max_iter = VARIANTS[name]
    _, x_test, _, y_test = split()
    onx = train(hidden, max_iter)
    common = {
        "name": name,
        "task": "classification",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, FEATURES]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
        ],
        "description": "Handwritten digit (0-9) from 8x8 pixel intensities 0..16, scikit-learn's digits data.",
    }
    provenance = {
        "source": "sklearn.datasets.load_digits (bundled with scikit-learn)",
        "estimator": f"MLPClassifier(hidden_layer_sizes={hidden}, max_iter={max_iter}, random_state={SEED})",
        "split": f"train_test_split(test_size=0.25, stratify=y, random_state={SEED}); {len(y_test)} held-out rows",
        "converter": f"skl2onnx {skl2onnx.__version__}, target_opset {OPSET}, zipmap off",
        "scikit_learn": sklearn.__version__,
    }
    cards = []
    fp32_dir, int8_dir = out / name / "1", out / name / "2"
    for d in (fp32_dir, int8_dir):
        d.mkdir(parents=True, exist_ok=True)
    (fp32_dir / "model.onnx").write_bytes(onx.SerializeToString())
    quantize_dynamic(fp32_dir / "model.onnx", int8_dir / "model.onnx", weight_type=QuantType.QInt8)
    for version, d, precision, how in (
        (1, fp32_dir, "fp32", "exported as is"),
        (2, int8_dir, "int8", "onnxruntime.quantization.quantize_dynamic(weight_type=QInt8) of version 1"),
    ):
        accuracy = onnx_accuracy(d / "model.onnx", x_test, y_test)
        cards.append(
            write_card(
                d,
                {
                    **common,
                    "version": version,
                    "precision": precision,
                    "metrics": {"accuracy": round(accuracy, 4), "held_out_rows": len(y_test)},
                    "provenance": {**provenance, "precision": how},
                },
            )
        )
    return cards
