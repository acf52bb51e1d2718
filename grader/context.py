"""What a check function receives: the submission, safely read (how it reports: grader.verdict)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader import safeyaml
from grader.settings import GraderSettings, get_settings
from grader.spec import REPO_ROOT, CheckSpec, LabSpec
from grader.verdict import Fail, Skip

MAX_TEXT_BYTES = 2_000_000


@dataclass
class Context:
    root: Path
    lab: LabSpec
    check: CheckSpec
    run_id: str
    reference: Path = REPO_ROOT
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    # The grader's own working tree (a learner's `make check`): its code may run on this host. Anyone else's
    # (`grade`, `check --path`) is untrusted and runs only in the sandbox.
    own_tree: bool = False
    # Run by the batch grader's worker (other people's code): never built without bounds.
    batch: bool = False
    settings: GraderSettings = field(default_factory=get_settings)

    def file(self, rel: str) -> Path:
        """A file of the submission; Fail when missing or when it leads outside the submission."""
        path = self.root / rel
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise Fail(f"missing file {rel}: create it (see labs/{self.lab.folder}/README.md)") from None
        if not resolved.is_relative_to(self.root.resolve()):
            raise Fail(f"{rel} leads outside the submission; submit a regular file")
        if not resolved.is_file():
            raise Fail(f"{rel} is not a regular file")
        return resolved

    def exists(self, rel: str) -> bool:
        try:
            self.file(rel)
        except Fail:
            return False
        return True

    def text(self, rel: str) -> str:
        path = self.file(rel)
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise Fail(f"{rel} is {size / 1e6:.1f} MB, over the {MAX_TEXT_BYTES / 1e6:g} MB a text file may be")
        data = path.read_bytes()
        if b"\0" in data:
            raise Fail(f"{rel} contains NUL bytes: it is binary, not a text file; submit the text file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Fail(f"{rel} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None

    def yaml(self, rel: str) -> Any:
        try:
            return safeyaml.load(self.text(rel))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise Fail(f"{rel} is not valid YAML{where}: {problem}") from None

    def json(self, rel: str) -> Any:
        try:
            return json.loads(self.text(rel))
        except json.JSONDecodeError as exc:
            raise Fail(f"{rel} is not valid JSON at line {exc.lineno}: {exc.msg}") from None

    def name(self, suffix: str) -> str:
        """A unique name for containers, networks and images this check creates."""
        return f"ahl-grader-{self.run_id}-{suffix}"


def run_tool(
    args: list[str], timeout: float, cwd: Path | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess:
    """A trusted tool (hadolint, kubectl, docker) with a deadline; its output is capped by the caller."""
    try:
        return subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input_text, errors="replace"
        )
    except FileNotFoundError:
        raise Skip(f"{args[0]} is not installed", "make setup") from None
    except subprocess.TimeoutExpired:
        raise Fail(f"{Path(args[0]).name} did not finish within {timeout:g} s") from None


def cap(text: str, limit: int = 2000) -> str:
    """Output of a command, trimmed for feedback (floods stay out of reports)."""
    text = text.strip()
    return (
        text
        if len(text) <= limit
        else text[: limit // 2] + f"\n... [{len(text) - limit} characters cut] ...\n" + text[-limit // 2 :]
    )
