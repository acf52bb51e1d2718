"""Our model code for the peers' own model classes: one model of our repository, loaded and warmed as ours is."""

from __future__ import annotations

import argparse
from pathlib import Path

from model_server.repository import default_version, scan
from model_server.runtime import OnnxModel, build_model, session_options


def load(repository: Path, name: str, threads: int) -> OnnxModel:
    versions = scan(repository, [name])[name]
    model = build_model(versions[default_version(versions)], session_options(threads, 1, "all"))
    model.load()
    return model


def arguments(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The flags every launcher takes, as the model server does (loadtest.local_server passes the first three)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-repository", type=Path, required=True)
    parser.add_argument("--models", required=True, help="the one model to serve, e.g. minilm")
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-queue-delay-ms", type=float, default=5.0)
    parser.add_argument("--intra-op-threads", type=int, default=1)
    parser.add_argument("--workdir", type=Path, required=True, help="where the peer's configuration files go")
    return parser.parse_args(argv)
