"""Predict, then verify: the tolerances of loadtest.hpa.verify on timelines shaped like lab 05's."""

from __future__ import annotations

import re

import pytest

from loadtest.hpa import verify as hpa_verify

PREDICTED = [(15.0 * i, r) for i, r in enumerate([2, 2, 2, 2, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 3, 3, 2, 2])]


def seen(replicas: list[int], step: float = 5.0) -> list[tuple[float, int]]:
    return [(step * i, r) for i, r in enumerate(replicas)]


def test_the_same_shape_within_a_sync_passes() -> None:
    verdict = hpa_verify.verify(PREDICTED, seen([2] * 14 + [4] * 3 + [6] * 40 + [3] * 6 + [2] * 10), 240, 60)
    assert verdict.problems == []
    assert (verdict.observed.peak, verdict.observed.near_peak_t, verdict.observed.down_t) == (6, 85, 285)
    assert re.search(r"^within 1 of the peak +75 s +85 s$", verdict.table(), re.MULTILINE), verdict.table()


def test_a_last_replica_that_comes_late_is_not_a_miss() -> None:
    # 5 of 6 on time; the sixth waits a minute and a half for the utilization to leave the tolerance band.
    verdict = hpa_verify.verify(PREDICTED, seen([2] * 14 + [4] * 3 + [5] * 20 + [6] * 20 + [3] * 6 + [2] * 10), 240, 60)
    assert verdict.problems == []


@pytest.mark.parametrize(
    ("replicas", "words"),
    [
        ([2] * 14 + [4] * 3 + [8] * 40 + [2] * 10, "peak of 8 replicas observed, 6 predicted"),
        ([2] * 40 + [6] * 20 + [2] * 10, "within 1 of the peak at 200 s, predicted 75 s"),
        ([2] * 14 + [6] * 36 + [2] * 20, "scaled down at 250 s, before the 60 s stabilization window"),
        ([2] * 14 + [6] * 60, "never scaled down after the load dropped; predicted at 285 s"),
    ],
)
def test_each_tolerance_fails_alone(replicas: list[int], words: str) -> None:
    problems = hpa_verify.verify(PREDICTED, seen(replicas), 240, 60).problems
    assert len(problems) == 1 and words in problems[0], problems


def test_recordings_and_load_profiles_are_read_or_refused_with_the_reason() -> None:
    text = "time,replicas,desired,current,ready,cpu_utilization\n100,2,2,2,2,5\n105,3,3,2,2,90\n110,,,,,\n"
    assert hpa_verify.observed_points(text, "hpa.csv") == [(0.0, 2), (5.0, 3)]
    # The HPA's decision (desired) is what the prediction holds; currentReplicas follows it a sync later.
    text = "time,replicas,desired,current,ready,cpu_utilization\n100,2,2,2,2,5\n105,2,4,2,2,90\n120,4,,4,4,70\n"
    assert hpa_verify.observed_points(text, "hpa.csv") == [(0.0, 2), (5.0, 4), (20.0, 4)]
    with pytest.raises(ValueError, match=r"hpa\.csv has no rows with a replica count"):
        hpa_verify.observed_points("time,replicas\n", "hpa.csv")
    with pytest.raises(ValueError, match="a row lacks a number"):
        hpa_verify.observed_points("time,replicas\nx,2\n", "hpa.csv")
    assert hpa_verify.load_drop_s("t,rps\n0,20\n60,240\n240,20\n480,20\n") == 240
    assert hpa_verify.peak_span("t,rps\n0,20\n60,240\n240,20\n480,20\n") == (60, 240)
    with pytest.raises(ValueError, match="never drops"):
        hpa_verify.load_drop_s("t,rps\n0,20\n60,240\n")
