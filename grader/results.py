"""Results of one grading run, and their plain-dict form (the project's JSON format)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "skipped", "timeout", "error"]
SCHEMA_VERSION = 1


@dataclass
class PartResult:
    id: str
    title: str
    score: float
    max_score: float
    passed: bool
    feedback: str


@dataclass
class CheckResult:
    id: str
    title: str
    kind: str
    status: Status
    score: float
    max_score: float
    required: bool
    visibility: str
    student_fails: bool
    feedback: str
    hint: str
    duration_s: float
    parts: list[PartResult] = field(default_factory=list)
    # For a skip: the command that provides the missing requirement.
    provide: str = ""


@dataclass
class LabResult:
    lab: str
    lab_title: str
    lab_version: str
    grader_version: str
    submission: str
    started_at: str
    duration_s: float
    static_only: bool
    checks: list[CheckResult]
    not_run: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)

    @property
    def passed(self) -> bool:
        """Every required check passed (a skip is not a pass)."""
        return all(c.status == "passed" for c in self.checks if c.required)

    @property
    def partial(self) -> bool:
        """Not passed, yet nothing failed: the required checks that did not pass could not run here (skipped for
        a missing requirement such as a kind cluster). The learner is told what could not run and why."""
        required = [c for c in self.checks if c.required]
        return not self.passed and all(c.status in ("passed", "skipped") for c in required)

    @property
    def partial_reason(self) -> str:
        """'live checks not run: no cluster: kind is not installed' (each distinct reason once)."""
        skipped = [c for c in self.checks if c.required and c.status == "skipped"]
        reasons = dict.fromkeys(c.feedback.removeprefix("skipped: ") for c in skipped)
        kind = "live checks" if all(c.kind == "live" for c in skipped) else "checks"
        return f"{kind} not run: " + "; ".join(reasons)

    def as_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            **{k: v for k, v in asdict(self).items() if k != "checks"},
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "partial": self.partial,
            "checks": [asdict(c) for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabResult:
        checks = [CheckResult(**{**c, "parts": [PartResult(**p) for p in c["parts"]]}) for c in data["checks"]]
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k != "checks"}
        return cls(**fields, checks=checks)
