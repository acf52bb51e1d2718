"""The model repository on disk: models/<name>/<version>/{model.onnx, model.json}, Triton-style."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class RepositoryError(Exception):
    """The repository on disk is not usable; raised before the server starts listening."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # Open Inference Protocol datatype: FP32, INT64, BYTES
    shape: tuple[int, ...]  # -1 marks a variable dimension

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    task: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    directory: Path
    raw: dict[str, Any]

    @property
    def onnx_path(self) -> Path:
        return self.directory / "model.onnx"


def _specs(items: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(i["name"], i["datatype"], tuple(i["shape"])) for i in items)


def read_card(directory: Path) -> ModelCard:
    card_path = directory / "model.json"
    try:
        raw = json.loads(card_path.read_text())
        card = ModelCard(
            name=raw["name"],
            version=str(raw["version"]),
            task=raw["task"],
            inputs=_specs(raw["inputs"]),
            outputs=_specs(raw["outputs"]),
            directory=directory,
            raw=raw,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RepositoryError(f"{card_path}: unreadable model card ({type(exc).__name__}: {exc})") from exc
    if not card.onnx_path.is_file():
        raise RepositoryError(f"{card.onnx_path}: missing (run `make models`)")
    return card


def scan(root: Path, only: list[str] | None = None) -> dict[str, dict[str, ModelCard]]:
    """Every model card under root, as {name: {version: card}}; `only` restricts to those names."""
    found: dict[str, dict[str, ModelCard]] = {}
    for card_path in sorted(root.glob("*/*/model.json")):
        name, version = card_path.parent.parent.name, card_path.parent.name
        if only and name not in only:
            continue
        found.setdefault(name, {})[version] = read_card(card_path.parent)
    missing = sorted(set(only or ()) - set(found))
    if missing:
        raise RepositoryError(f"model(s) {', '.join(missing)} not found in {root} (have: {', '.join(sorted(found))})")
    if not found:
        raise RepositoryError(f"no models in {root} (run `make models`)")
    return found


def default_version(versions: dict[str, Any]) -> str:
    """The highest version, numerically: Triton's 'latest' policy."""
    return max(versions, key=lambda v: (int(v) if v.isdigit() else -1, v))
