"""The model repository on disk: models/<name>/<version>/{model.onnx, model.json}, Triton-style."""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
    """The card in models/<name>/<version>/: the folder names are the model's name and version, as in Triton.

    A card may still say another name or version (a version folder copied to add a version, say): the folders
    win, with a warning, so a copy serves under its own folder and never replaces another model."""
    card_path = directory / "model.json"
    name, version = directory.parent.name, directory.name
    try:
        raw = json.loads(card_path.read_text())
        card = ModelCard(
            name=name,
            version=version,
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
    said = (str(raw.get("name", name)), str(raw.get("version", version)))
    if said != (name, version):
        log.warning("%s says %s version %s; serving it as %s version %s (its folders)", card_path, *said, name, version)
    return card


def scan(root: Path, only: list[str] | None = None) -> dict[str, dict[str, ModelCard]]:
    """Every model card under root, as {name: {version: card}}; `only` restricts to those names."""
    found: dict[str, dict[str, ModelCard]] = {}
    available: set[str] = set()
    for card_path in sorted(root.glob("*/*/model.json")):
        name, version = card_path.parent.parent.name, card_path.parent.name
        available.add(name)
        if only and name not in only:
            continue
        found.setdefault(name, {})[version] = read_card(card_path.parent)
    missing = sorted(set(only or ()) - set(found))
    if missing:
        have = ", ".join(sorted(available)) or "none: run `make models`"
        raise RepositoryError(f"model(s) {', '.join(missing)} not found in {root} (available: {have})")
    if not found:
        raise RepositoryError(f"no models in {root} (run `make models`)")
    return found


def default_version(versions: dict[str, Any]) -> str:
    """The highest version, numerically: Triton's 'latest' policy."""
    return max(versions, key=lambda v: (int(v) if v.isdigit() else -1, v))


def resolve_default_versions(cards: dict[str, dict[str, Any]], chosen: dict[str, str]) -> dict[str, str]:
    """The version that answers requests naming none, per model: the chosen one (checked), else the highest."""
    setting = "--default-versions (MODEL_SERVER_DEFAULT_VERSIONS)"
    for name, version in chosen.items():
        if name not in cards:
            raise RepositoryError(f"{setting} names model {name!r}, not loaded (loaded: {', '.join(sorted(cards))})")
        if version not in cards[name]:
            have = ", ".join(sorted(cards[name]))
            raise RepositoryError(f"{setting}: model {name!r} has no version {version!r} (available: {have})")
    return {name: chosen.get(name) or default_version(versions) for name, versions in cards.items()}
