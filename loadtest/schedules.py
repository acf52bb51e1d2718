"""Load shapes as pure schedules: users over time, chosen by name.

A schedule maps seconds since start to (users, spawn rate), or None once the run is over, which
is exactly what a Locust LoadTestShape.tick() returns (see loadtest.shapes). Keeping them pure
lets the tests check every shape without starting Locust. Every schedule ends at `duration`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def make(name: str, users: int, duration: float) -> Schedule:
    try:
        cls = SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; choose one of {', '.join(SHAPES)}") from None
    return cls(users=users, duration=duration)
