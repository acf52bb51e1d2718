"""Write a model version's folder: the ONNX file and its card (model.json)."""

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import onnx
import onnxruntime


def write_card(version_dir: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Complete the card with what the file itself tells (size, sha256, opset, versions) and write it."""
    model_path = version_dir / "model.onnx"
    data = model_path.read_bytes()
    proto = onnx.load_model_from_string(data)
    card = {
        **card,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "opset": {entry.domain or "ai.onnx": entry.version for entry in proto.opset_import},
        "onnxruntime": onnxruntime.__version__,
        "built_with": {"python": platform.python_version(), "onnx": onnx.__version__},
    }
    (version_dir / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
