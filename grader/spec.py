"""The lab registry: `labs/NN-slug/lab.yaml` files, validated with pydantic.

A lab.yaml names its checks; each check points at a registered check function (grader.catalog)
by `function` (default: the check's id) with keyword `args`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader import catalog
from grader.requirements import Requirement
from grader.settings import REPO_ROOT

LABS_DIR = REPO_ROOT / "labs"
LAB_DIR_RE = re.compile(r"^(\d\d)-[a-z0-9-]+$")

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]


class SpecError(ValueError):
    """A lab.yaml (or a LAB argument) that cannot be used; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubPoint(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: str
    points: float = Field(gt=0)


class CheckSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    points: float = Field(ge=0)
    subpoints: list[SubPoint] = []
    kind: Literal["static", "live"]
    visibility: Visibility = "visible"
    timeout: float = Field(default=60, gt=0, le=3600)
    hint: str
    requires: list[Requirement] = []
    # True when the student edition (after `release`) is expected to fail this check.
    student_fails: bool
    # A required check must pass for `check` to exit 0; optional ones only add points.
    required: bool = True
    function: str | None = None
    args: dict[str, Any] = {}

    @model_validator(mode="after")
    def _subpoints_add_up(self) -> CheckSpec:
        if self.subpoints and abs(sum(s.points for s in self.subpoints) - self.points) > 1e-9:
            raise ValueError(
                f"subpoints of {self.id} add up to {sum(s.points for s in self.subpoints):g}, not {self.points:g}"
            )
        if self.kind == "static" and self.requires:
            raise ValueError(f"static check {self.id} cannot require {self.requires}: static checks only read files")
        return self

    @property
    def function_name(self) -> str:
        return self.function or self.id


class LabSpec(_Strict):
    id: str = Field(pattern=r"^\d\d$")
    slug: str
    title: str
    version: str
    # Generated outputs of the reference (results folders, predictions) that the student edition does not ship.
    release_remove: list[str] = []
    # Files only the instructor's grader holds (answer keys): left out of the student edition, put into the
    # instructor's Gradescope bundles.
    grader_keys: list[str] = []
    # Repository folders whose text may repeat a solution independently (third-party manifests with the same
    # boilerplate); the release's leak search skips them.
    release_allow: list[str] = []
    checks: list[CheckSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> LabSpec:
        ids = [c.id for c in self.checks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate check ids: {', '.join(dupes)}")
        return self

    @property
    def folder(self) -> str:
        return f"{self.id}-{self.slug}"

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_lab(path: Path) -> LabSpec:
    """Parse and validate one lab.yaml; SpecError with `file: field: problem` on any defect."""
    match = LAB_DIR_RE.match(path.parent.name)
    if not match:
        raise SpecError(f"{path}: the folder must be named NN-slug")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SpecError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    try:
        lab = LabSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path}: {_one_line(exc)}") from None
    if lab.folder != path.parent.name:
        raise SpecError(f"{path}: id/slug say {lab.folder}, the folder is {path.parent.name}")
    try:
        unknown = [c.function_name for c in lab.checks if not catalog.known(c.function_name)]
    except ImportError as exc:  # a check module needs a package that is not installed
        raise SpecError(f"{path}: cannot load its checks: {exc} (run `make setup`)") from None
    if unknown:
        raise SpecError(f"{path}: no check function registered as {', '.join(unknown)}")
    return lab


@cache
def all_labs(labs_dir: Path = LABS_DIR) -> dict[str, LabSpec]:
    """Every lab with a lab.yaml, by id."""
    return {lab.id: lab for lab in (load_lab(p) for p in sorted(labs_dir.glob("*/lab.yaml")))}


def resolve(lab: str, labs_dir: Path = LABS_DIR) -> LabSpec:
    """LAB as given on the command line: `02`, `2`, `02-containerize` or `labs/02-containerize`.
    Only that lab's lab.yaml is loaded (and only the check modules it uses are imported)."""
    name = lab.strip().rstrip("/").split("/")[-1]
    number = name.split("-", 1)[0]
    for path in sorted(labs_dir.glob("*/lab.yaml")):
        folder = path.parent.name
        if name == folder or (number.isdigit() and number.zfill(2) == folder[:2] and (name == number)):
            return load_lab(path)
    known = ", ".join(sorted(p.parent.name for p in labs_dir.glob("*/lab.yaml"))) or "none (no labs/*/lab.yaml)"
    raise SpecError(f"unknown lab {lab!r}; known labs: {known}")
