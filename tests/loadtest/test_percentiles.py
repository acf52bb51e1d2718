import random

import pytest

from loadtest.percentiles import REPORTED, label, nearest_rank, percentiles


def test_one_to_hundred_gives_the_rank_itself():
    values = list(range(1, 101))
    assert percentiles(values) == {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}


def test_order_of_input_does_not_matter():
    values = list(range(1, 1001))
    shuffled = values[:]
    random.Random(0).shuffle(shuffled)
    assert percentiles(shuffled) == percentiles(values)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([7.5], 50, 7.5),
        ([7.5], 99, 7.5),
        ([1, 2, 3, 4], 50, 2),  # ceil(0.5 * 4) = 2nd value
        ([1, 2, 3, 4], 51, 3),
        ([10, 20, 30], 99, 30),
        ([3, 1, 2], 100, 3),
    ],
)
def test_nearest_rank_known_values(values, p, expected):
    assert nearest_rank(sorted(values), p) == expected


def test_always_an_observed_value():
    values = [0.1 * i for i in range(37)]
    assert set(percentiles(values).values()) <= set(values)


def test_tail_is_not_hidden_by_many_fast_requests():
    values = [5.0] * 980 + [400.0] * 20  # 2% slow
    got = percentiles(values)
    assert got["p95"] == 5.0
    assert got["p99"] == 400.0


@pytest.mark.parametrize("bad", [0, -1, 100.5])
def test_rejects_out_of_range(bad):
    with pytest.raises(ValueError):
        nearest_rank([1.0], bad)


def test_rejects_empty():
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_labels():
    assert [label(p) for p in REPORTED] == ["p50", "p90", "p95", "p99", "max"]
    assert label(99.9) == "p99.9"
