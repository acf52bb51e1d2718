"""Load shapes as pure schedules: users over time, chosen by name.

A schedule maps seconds since start to (users, spawn rate), or None once the run is over, which
is exactly what a Locust LoadTestShape.tick() returns (see loadtest.shapes). Keeping them pure
lets the tests check every shape without starting Locust. Every schedule ends at `duration`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.hpa import load_at

Tick = tuple[int, float] | None


@dataclass(frozen=True)
class Schedule:
    users: int
    duration: float

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("users must be >= 1")
        if self.duration <= 0:
            raise ValueError("duration must be > 0 seconds")

    def tick(self, t: float) -> Tick:
        if t >= self.duration:
            return None
        return self.users_at(t), float(self.users)  # spawn each change within ~1 s

    def users_at(self, t: float) -> int:
        raise NotImplementedError


class Constant(Schedule):
    """All users from the start until the end."""

    def users_at(self, t: float) -> int:
        return self.users


class Step(Schedule):
    """Four equal steps up to `users`: finds the load where latency starts to climb."""

    steps = 4

    def users_at(self, t: float) -> int:
        step = min(int(t / (self.duration / self.steps)), self.steps - 1)
        return max(1, math.ceil(self.users * (step + 1) / self.steps))


class Ramp(Schedule):
    """Linear ramp from 1 user to `users` over the first 80%, then hold."""

    def users_at(self, t: float) -> int:
        return max(1, min(self.users, math.ceil(self.users * t / (0.8 * self.duration))))


class Spike(Schedule):
    """A fifth of the users, a spike to all of them in the middle fifth, then back down."""

    def users_at(self, t: float) -> int:
        base = max(1, self.users // 5)
        return self.users if 0.4 * self.duration <= t < 0.6 * self.duration else base


class Soak(Schedule):
    """Ramp over the first 10%, then hold for a long time: shows leaks and slow drift."""

    def users_at(self, t: float) -> int:
        return max(1, min(self.users, math.ceil(self.users * t / (0.1 * self.duration))))


SHAPES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": Step,
    "ramp": Ramp,
    "spike": Spike,
    "soak": Soak,
}


@dataclass(frozen=True)
class RateProfile(Schedule):
    """Open loop along a `t,rps` profile (the HPA what-if tool's load CSV, piecewise constant): each user is paced
    at peak/users requests/s (--rate = the peak), so the users at t are rps(t) / that, and the arrival rate follows
    the profile. The cluster and the what-if tool then see the same input."""

    load: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.load or self.peak <= 0:
            raise ValueError("the load profile sends nothing (every rps is 0)")
        if not self._fits(self.users):
            rps = next(rps for _, rps in self.load if not self._fits(self.users, [rps]))
            fit = next((n for n in range(self.users + 1, 1001) if self._fits(n)), None)
            raise ValueError(
                f"--users {self.users} ({self.peak / self.users:g} rps each) cannot follow {rps:g} rps within 5%"
                + (f": use --users {fit}" if fit else "")
            )

    @property
    def peak(self) -> float:
        return max(rps for _, rps in self.load)

    def _fits(self, users: int, rates: list[float] | None = None) -> bool:
        """Every rate is a whole number of users at peak/users each, within 5%."""
        each = self.peak / users
        return all(abs(round(r / each) * each - r) <= 0.05 * r for r in rates or [r for _, r in self.load])

    def users_at(self, t: float) -> int:
        return round(self.users * load_at(self.load, t) / self.peak)


def make(name: str, users: int, duration: float, load: Sequence[tuple[float, float]] | None = None) -> Schedule:
    """The shape called `name`, or with `load` (a `t,rps` profile) the open-loop RateProfile."""
    if load is not None:
        return RateProfile(users=users, duration=duration, load=tuple(load))
    try:
        cls = SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(SHAPES)}") from None
    return cls(users=users, duration=duration)
