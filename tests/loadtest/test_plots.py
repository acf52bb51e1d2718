"""The run's charts: what a learner sees when opening them (pure: synthetic records, no server)."""

from __future__ import annotations

from loadtest import plots
from loadtest.records import Record


def _records(rate: float, seconds: float, latency_ms: float, t0: float = 1000.0) -> list[Record]:
    n = int(rate * seconds)
    return [Record(t0 + i / rate, "x", "POST", "digits", 200, latency_ms, 1, "") for i in range(n)]


def test_no_trailing_partial_second_that_looks_like_an_event():
    """A 15.3 s run: the last 0.3 s after the last request was sent holds only the slowest answers still in
    flight at the stop (here 63 ms against 9 ms), a p95 spike at t=15 s that did not happen."""
    recs = _records(100, 15.3, 9.0)
    recs += [Record(1000.0 + 15.29, "x", "POST", "digits", 200, 63.0, 1, "") for _ in range(3)]
    rows = plots.per_second(recs, 1000.0)
    assert [r["t"] for r in rows] == list(range(15))
    assert max(r["p95"] for r in rows) == 9.0
    assert all(r["requests"] == 100 for r in rows)


def test_open_loop_throughput_line_is_not_hidden_under_the_users_line():
    """Open loop: throughput and users are both flat. Each on an axis scaled to its own maximum put both lines on
    the top edge, one over the other, and the chart looked blank."""
    rows = [{"t": t, "requests": 200, "failures": 0} for t in range(10)]
    fig = plots.throughput_figure(rows, users=[(0.0, 8), (10.0, 8)])
    ax, twin = fig.axes
    assert 0.85 * ax.get_ylim()[1] >= 200  # the throughput line clearly below the top edge
    assert 0.55 * twin.get_ylim()[1] >= 8  # the users line in the lower half, away from it
    plots.plt.close(fig)
