"""What live checks require: one table of requirements, each with its probe and the command that provides it.
A lab.yaml's `requires` is checked against the table; the runner skips a check whose requirement is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from pydantic import AfterValidator

from grader import programs
from grader.settings import REPO_ROOT, GraderSettings, get_settings


@dataclass(frozen=True)
class Need:
    provide: str  # the command that provides it ({server_image}: the grader's server image)
    probe: Callable[[GraderSettings], str | None]  # None when met, else what is missing


def _docker(_: GraderSettings) -> str | None:
    return None if programs.docker_answers() else "no Docker engine answers `docker info`"


def _compose(settings: GraderSettings) -> str | None:
    if shutil.which("docker-compose") or programs.succeeds("docker", "compose", "version"):
        return _docker(settings)
    return "neither `docker compose` nor `docker-compose` is installed"


def _kind(settings: GraderSettings) -> str | None:
    if not programs.project_tool("kind"):  # KIND, .bin/kind, PATH: where the Makefile finds it
        return "no cluster: kind is not installed"
    try:
        tool = programs.kubectl()
    except programs.MissingProgram as exc:
        return str(exc)
    answers = programs.succeeds(tool, "--context", settings.kube_context, "get", "nodes")
    return None if answers else "no cluster: no kind cluster answers"


def _image(image: str, settings: GraderSettings) -> str | None:
    return _docker(settings) or (
        None if programs.succeeds("docker", "image", "inspect", image) else f"no image {image}"
    )


def _models(_: GraderSettings) -> str | None:
    built = list((REPO_ROOT / "models").glob("*/*/model.onnx"))
    return None if built else "the model repository models/ is not built"


def _wheelhouse(_: GraderSettings) -> str | None:
    built = (REPO_ROOT / "wheelhouse" / ".built").exists()
    return None if built else "no wheelhouse/ (offline image builds need it)"


REQUIREMENTS: dict[str, Need] = {
    "docker": Need("make docker-engine", _docker),
    "compose": Need("make docker-engine (installs docker-compose)", _compose),
    "kind": Need("make doctor (it says how to install kind), then make cluster-up deploy", _kind),
    "base-image": Need("make base-image", lambda s: _image(s.base_image, s)),
    "models": Need("make models", _models),
    "server-image": Need("make image IMAGE={server_image}", lambda s: _image(s.server_image, s)),
    "wheelhouse": Need("make wheelhouse", _wheelhouse),
}
PROVIDES = {name: need.provide for name, need in REQUIREMENTS.items()}


def _known(name: str) -> str:
    if name not in REQUIREMENTS:
        raise ValueError(f"unknown requirement {name!r}; known: {', '.join(REQUIREMENTS)}")
    return name


# A lab.yaml's `requires` item: a name of the table.
Requirement = Annotated[str, AfterValidator(_known)]


def provide(requirement: str, settings: GraderSettings | None = None) -> str:
    """The command that provides the requirement."""
    return PROVIDES[requirement].format(server_image=(settings or get_settings()).server_image)


@cache
def missing(requirement: str) -> str | None:
    """None when the requirement is met on this machine (with the process's settings), else what is missing."""
    need = REQUIREMENTS.get(requirement)
    if need is None:
        raise ValueError(f"unknown requirement {requirement}")
    return need.probe(get_settings())
