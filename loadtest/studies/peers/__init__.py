"""Peer servers for `make bench-peers`: MLServer and Triton (through PyTriton), each in its own virtualenv.

Each peer serves a model of our repository with our own pre- and post-processing (model_server.runtime:
tokenization, padding to the longest text, mean pooling, normalization), so that only the serving stack
differs. A peer's virtualenv (.venv-peers/<name>) is made on first use from the pinned requirements file
beside this module, and made again when that file changes. Only the standard library is imported here: the
peers' launchers import this package inside their own virtualenvs.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
REPO_ROOT = HERE.parents[2]  # on the peers' PYTHONPATH: they import model_server.runtime from it


class PeerError(Exception):
    """A peer cannot be installed here; the message holds the command and its error."""


@dataclass(frozen=True)
class Peer:
    name: str
    module: str  # the launcher, run with the peer's python: `python -m MODULE --host --port --model-repository ...`
    batching: str  # what its dynamic batching is set to, in the peer's own option names

    @property
    def requirements(self) -> Path:
        return HERE / f"{self.name}.txt"


PEERS = {
    "mlserver": Peer(
        "mlserver",
        "loadtest.studies.peers.mlserver_serve",
        "adaptive batching: max_batch_size 32, max_batch_time 0.005 s (model-settings.json)",
    ),
    "pytriton": Peer(
        "pytriton",
        "loadtest.studies.peers.pytriton_serve",
        "Triton dynamic batcher: max_batch_size 32, max_queue_delay_microseconds 5000 (ModelConfig, DynamicBatcher)",
    ),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(peer: Peer, root: Path) -> Path:
    """The peer's python, installing its virtualenv under `root` first if it is missing or out of date."""
    venv = root / peer.name
    python = venv / "bin" / "python"
    digest = hashlib.sha256(peer.requirements.read_bytes()).hexdigest()
    stamp = venv / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    print(f"==> installing {peer.name} into {venv} from {peer.requirements.name} (once; a few minutes)", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "-r", str(peer.requirements)],
    ]
    for step in steps:
        print("    $ " + " ".join(step), flush=True)
        result = subprocess.run(step, check=False)
        if result.returncode != 0:
            raise PeerError(f"{peer.name}: `{' '.join(step)}` failed with exit code {result.returncode}")
    stamp.write_text(digest + "\n")
    return python
