import random

import pytest

from loadtest import schedules
from loadtest.payloads import TEXT_PRESETS, TextLength, make_text


@pytest.mark.parametrize("name", list(schedules.SHAPES))
def test_every_shape_ends_at_duration_and_never_exceeds_users(name):
    s = schedules.make(name, users=10, duration=20)
    ticks = [s.tick(t / 2) for t in range(40)]
    assert all(t is not None and 1 <= t[0] <= 10 for t in ticks)
    assert max(t[0] for t in ticks) == 10
    assert s.tick(20) is None and s.tick(25) is None


def test_shapes_differ_as_named():
    users = lambda name: [schedules.make(name, 10, 100).users_at(t) for t in range(0, 100, 10)]  # noqa: E731
    assert users("constant") == [10] * 10
    assert users("step") == [3, 3, 3, 5, 5, 8, 8, 8, 10, 10]
    assert users("ramp")[0] == 1 and users("ramp")[-1] == 10 and users("ramp") == sorted(users("ramp"))
    assert users("spike") == [2, 2, 2, 2, 10, 10, 2, 2, 2, 2]
    assert users("soak")[1:] == [10] * 9


def test_unknown_shape_and_bad_numbers():
    with pytest.raises(ValueError, match="unknown shape"):
        schedules.make("zigzag", 1, 1)
    with pytest.raises(ValueError):
        schedules.make("constant", 0, 1)
    with pytest.raises(ValueError):
        schedules.make("constant", 1, 0)


def test_text_lengths():
    assert TextLength.parse("short") == TEXT_PRESETS["short"]
    assert TextLength.parse("12") == TextLength(12, 12)
    assert TextLength.parse("3-9") == TextLength(3, 9)
    rng = random.Random(1)
    for spec in ("short", "long", "7-7"):
        length = TextLength.parse(spec)
        for _ in range(20):
            assert length.min_words <= len(make_text(rng, length).split()) <= length.max_words
    for bad in ("huge", "9-3", "0"):
        with pytest.raises(ValueError):
            TextLength.parse(bad)
