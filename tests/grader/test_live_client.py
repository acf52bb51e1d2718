"""Lab 01's live check counts the server's answers: a client.py that prints the expected labels without
asking the server fails (the reference passing is in test_live)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import requirements, spec
from grader.checks.client import client_live
from grader.context import Context
from tests.grader.conftest import copy_lab

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def _server_image(server_image: str) -> None:
    assert requirements.missing("server-image") is None


def test_a_client_that_only_prints_the_labels_fails(tmp_path: Path) -> None:
    root = copy_lab("01", tmp_path)
    (root / "labs/01-serve/client.py").write_text(
        'print("v2 infer   digits: labels [0, 1, 7] (expected [0, 1, 7]), one request 1.00 ms")\n'
        'print("v1 predict digits: labels [0, 1, 7] (expected [0, 1, 7]), one request 1.00 ms")\n'
    )
    lab = spec.resolve("01")
    ctx = Context(root=root, lab=lab, check=next(c for c in lab.checks if c.id == "client.live"), run_id="fakecl")
    try:
        verdict = client_live(ctx)
    finally:
        for cleanup in reversed(ctx.cleanups):
            cleanup()
    assert not verdict.passed and "server answered 0" in verdict.problems[0]
