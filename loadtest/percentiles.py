"""Exact latency percentiles from raw timings.

Locust keeps response times in rounded buckets (1 ms below 100 ms, 10 ms below 1 s, 100 ms
below 10 s), so its percentiles can be off by up to half a bucket. Here every sample is kept and
percentiles use the nearest-rank definition: the p-th percentile is the smallest sample such that
at least p% of all samples are at or below it. It always returns a value that was observed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# The percentiles every report shows; "max" is the 100th.
REPORTED = (50.0, 90.0, 95.0, 99.0, 100.0)


def label(p: float) -> str:
    """p50, p99, p99.9, max."""
    if p == 100.0:
        return "max"
    return f"p{p:g}"


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; p in (0, 100]."""
    if not sorted_values:
        raise ValueError("no samples")
    if not 0.0 < p <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def percentiles(values: Iterable[float], ps: Sequence[float] = REPORTED) -> dict[str, float]:
    """{'p50': .., 'p90': .., 'p95': .., 'p99': .., 'max': ..} in the unit of the input."""
    ordered = sorted(values)
    return {label(p): nearest_rank(ordered, p) for p in ps}
