"""Starts MLServer on one model of our repository, with adaptive batching (run with the mlserver virtualenv).

MLServer reads settings.json (server) and model-settings.json (model) from a folder: both are written into
--workdir, then this process becomes `mlserver start` (exec: a SIGTERM from the benchmark reaches MLServer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from loadtest.studies.peers import free_port
from loadtest.studies.peers.repository_model import arguments
from model_server.repository import ModelCard, default_version, scan


def configuration(args: argparse.Namespace, card: ModelCard) -> tuple[dict, dict]:
    """settings.json and model-settings.json for serving `card` as the launcher's flags say."""
    settings = {
        "host": args.host,
        "http_port": args.port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        # The inference pool's worker processes (default 1) would each load the model; on one core, the
        # model runs in the server process, as with ours.
        "parallel_workers": 0,
        "debug": False,  # its default (True) turns on the access log, which ours leaves off
    }
    model_settings = {
        "name": card.name,
        "implementation": "loadtest.studies.peers.mlserver_model.RepositoryModel",
        "max_batch_size": args.max_batch_size,
        "max_batch_time": args.max_queue_delay_ms / 1000,
        "inputs": [spec.as_dict() for spec in card.inputs],
        # MLServer's NumpyCodec answers a 1-D output (a label per row) as a column, [rows, 1]: declare it so.
        "outputs": [
            spec.as_dict() | {"shape": list(spec.shape) if len(spec.shape) > 1 else [-1, 1]} for spec in card.outputs
        ],
        "parameters": {
            "version": card.version,
            "extra": {"repository": str(args.model_repository.resolve()), "threads": args.intra_op_threads},
        },
    }
    return settings, model_settings


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    versions = scan(args.model_repository, [args.models])[args.models]
    settings, model_settings = configuration(args, versions[default_version(versions)])
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "settings.json").write_text(json.dumps(settings, indent=2))
    (args.workdir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    mlserver = str(Path(sys.executable).with_name("mlserver"))
    os.execv(mlserver, [mlserver, "start", str(args.workdir)])


if __name__ == "__main__":
    main()
