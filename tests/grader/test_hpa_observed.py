"""hpa.observed (lab 05, predict then verify): a recorded run that matches the learner's prediction passes; one
that peaks elsewhere or shrinks inside the learner's own stabilization window fails, naming what differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import spec
from grader.checks.hpa import observed
from grader.context import Context
from grader.verdict import Fail, Skip
from tests.grader.conftest import copy_lab

HEADER = "time,replicas,desired,current,ready,cpu_utilization"


def _ctx(root: Path, replicas: list[int]) -> Context:
    rows = [f"{1795550000 + 5 * i},{r},{r},{r},{r},50" for i, r in enumerate(replicas)]
    (root / "labs/05-autoscale/observed.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    lab = spec.resolve("05")
    return Context(root=root, lab=lab, check=lab.checks[0], run_id="observed")


def test_a_run_shaped_like_the_prediction_passes(tmp_path: Path) -> None:
    root = copy_lab("05", tmp_path)
    verdict = observed(_ctx(root, [2] * 14 + [4] * 3 + [6] * 40 + [3] * 6 + [2] * 10))
    assert verdict.passed, verdict.problems
    assert "observed peak 6, within 1 of it at 85 s (predicted 6, 105 s), first scale-down at 285 s" in verdict.info


@pytest.mark.parametrize(
    ("replicas", "words"),
    [
        ([2] * 14 + [6] * 36 + [2] * 20, "before the 60 s stabilization window"),
        ([2] * 14 + [3] * 43 + [2] * 10, "peak of 3 replicas observed, 6 predicted"),
    ],
)
def test_a_run_that_differs_fails_naming_what(tmp_path: Path, replicas: list[int], words: str) -> None:
    root = copy_lab("05", tmp_path)
    verdict = observed(_ctx(root, replicas))
    assert not verdict.passed and any(words in p for p in verdict.problems), verdict.problems


def test_no_recording_is_a_skip_that_says_how_to_make_one(tmp_path: Path) -> None:
    # Without kind a learner cannot record: the lab is then PARTIAL (never a pass), as with its live checks.
    root = copy_lab("05", tmp_path)
    ctx = _ctx(root, [2])
    (root / "labs/05-autoscale/observed.csv").unlink()
    with pytest.raises(Skip, match=r"no recording labs/05-autoscale/observed\.csv") as skip:
        observed(ctx)
    assert "make cluster-up deploy k8s-loadtest" in skip.value.provide


def test_a_recording_without_replica_counts_fails(tmp_path: Path) -> None:
    root = copy_lab("05", tmp_path)
    ctx = _ctx(root, [2])
    (root / "labs/05-autoscale/observed.csv").write_text(HEADER + "\n")
    with pytest.raises(Fail, match="has no rows with a replica count"):
        observed(ctx)
