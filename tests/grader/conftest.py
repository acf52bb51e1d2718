"""Grader fixtures: copies of the reference tree to break on purpose, and in-process grading helpers."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader import runner, spec
from grader.results import LabResult

ROOT = Path(__file__).resolve().parents[2]
# What the learner's work of each lab touches, plus what the checks read next to it.
LAB_FILES = {
    "00": ["labs/00-concepts"],
    "01": ["labs/01-serve"],
    "02": ["model_server/Dockerfile"],
    "03": ["docker-compose.yml", "docker/lb"],
    "04": ["k8s"],
    "05": ["k8s", "labs/05-autoscale"],
    "06": ["labs/06-measure"],
    "07": ["labs/07-optimize"],
}


def copy_lab(lab: str, dest: Path) -> Path:
    """The reference files of one lab, copied into `dest` (a submission that should pass)."""
    for rel in LAB_FILES[lab]:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, dirs_exist_ok=True)
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def grade(
    lab: str, root: Path, only: list[str] | None = None, static_only: bool = True, own_tree: bool = False
) -> LabResult:
    return runner.run_lab(spec.resolve(lab), root, static_only=static_only, only=only, own_tree=own_tree)


@pytest.fixture
def submission(tmp_path: Path) -> Callable[[str], Path]:
    """`submission("02")`: a fresh copy of lab 02's reference files to break."""

    def make(lab: str) -> Path:
        return copy_lab(lab, tmp_path / f"sub-{lab}")

    return make


def statuses(result: LabResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


@pytest.fixture
def secret_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on the host's loopback holding a secret (what a hostile Dockerfile reaches for):
    (its port, the paths it was asked for). Stopped at the end."""
    hits: list[str] = []

    class Secret(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"TOP-SECRET")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
