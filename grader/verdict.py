"""How a check reports. A check returns a Verdict: an empty list of problems is a pass. Each problem says
what was observed and how to fix it. `Fail` ends a check early with one problem; `Skip` says that a
requirement is missing (with the command that provides it): a skip is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Fail(Exception):
    """The check failed; the message is the feedback (observed + fix)."""


class Skip(Exception):
    def __init__(self, reason: str, provide: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.provide = provide


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    info: str = ""
    # Sub-point id -> its problems, for checks with declared sub-points (partial credit).
    parts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems and not any(self.parts.values())
