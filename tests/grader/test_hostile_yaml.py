"""A YAML bomb ("billion laughs") in a learner's file is refused while parsing, in a batch and in
`grader check --path` alike, quickly and without the memory it would take to expand."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import safeyaml
from grader.policies import kubernetes
from tests.grader.conftest import ROOT, copy_lab


def bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]")
    lines.append(f"q01: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_a_bomb_is_refused_while_parsing() -> None:
    start = time.monotonic()
    with pytest.raises(Exception, match="expand to more than"):
        safeyaml.load(bomb())
    assert time.monotonic() - start < 2


def test_ordinary_aliases_still_load() -> None:
    assert safeyaml.load("base: &b {x: 1}\none: *b\ntwo: *b\n") == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}
    assert safeyaml.load_all("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


def test_kubernetes_yaml_files_are_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "kind-cluster.yaml"
    path.write_text(bomb())
    with pytest.raises(Exception, match="expand to more than"):
        kubernetes.load_yaml(path)


def _memory_cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))


def test_grader_check_path_refuses_the_quiz_bomb(tmp_path: Path) -> None:
    sub = copy_lab("00", tmp_path / "sub")
    (sub / "labs/00-concepts/answers.yaml").write_text(bomb())
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "00", "--path", str(sub), "--static-only", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=_memory_cap,
    )  # fmt: skip
    took = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr[-2000:]
    (quiz,) = (c for c in json.loads(proc.stdout)["checks"] if c["id"] == "quiz.answers")
    assert quiz["status"] == "failed" and "expand to more than" in quiz["feedback"]
    assert took < 20
