"""Learners' Dockerfiles: what the Docker daemon would fetch is refused before any build, and builds are
bounded by mechanism (processes, disk, time) and leave nothing behind."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import builds, requirements, spec
from grader.checks.container import container_ready
from grader.context import Context
from grader.policies.dockerfile import remote_sources
from grader.settings import get_settings
from grader.verdict import Fail
from tests.conftest import require_docker
from tests.grader.conftest import ROOT

BASE = get_settings().base_image
REFERENCE = (ROOT / "model_server/Dockerfile").read_text()


def _with_builder_lines(*lines: str) -> str:
    """The reference Dockerfile (passes every static check) with lines added at the top of its builder stage."""
    anchor = "FROM ${BASE_IMAGE} AS builder\n"
    assert anchor in REFERENCE
    return REFERENCE.replace(anchor, anchor + "".join(f"{ln}\n" for ln in lines), 1)


def test_the_reference_dockerfile_fetches_nothing_remote() -> None:
    assert remote_sources(REFERENCE, BASE) == []


@pytest.mark.parametrize(
    "text",
    [
        "FROM ${BASE_IMAGE}\nADD http://127.0.0.1:18200/secret.txt /s\n",
        "FROM ${BASE_IMAGE}\nADD HTTPS://example.org/x.tar.gz /x\n",
        'FROM ${BASE_IMAGE}\nADD ["http://127.0.0.1:1/s", "/s"]\n',
        "FROM ${BASE_IMAGE}\nARG U=http://127.0.0.1:1/s\nADD ${U} /s\n",
        "FROM ${BASE_IMAGE}\nADD git@github.com:x/y.git /y\n",
        "FROM ${BASE_IMAGE}\nADD --checksum=sha256:00 x /x\n",
        "FROM ${BASE_IMAGE}\nCOPY --from=127.0.0.1:5000/secrets:1 /s /s\n",
        "FROM ${BASE_IMAGE}\nCOPY --from=ai-hosting-labs/model-server:grader /app /app\n",
        "FROM ${BASE_IMAGE}\nCOPY --from=3 /x /x\n",
        "FROM 127.0.0.1:5000/evil:1\n",
        "FROM ai-hosting-labs/model-server:grader\n",
        "ARG IMG=127.0.0.1:5000/evil:1\nFROM ${IMG}\n",
        "# syntax=127.0.0.1:5000/frontend:1\nFROM ${BASE_IMAGE}\n",
        "# escape=`\nFROM ${BASE_IMAGE}\n",
    ],
)
def test_what_the_daemon_would_fetch_is_refused(text: str) -> None:
    assert remote_sources(text, BASE), text


def test_earlier_stages_and_the_base_image_are_allowed() -> None:
    text = "FROM ${BASE_IMAGE} AS b\nRUN true\nFROM scratch\nCOPY --from=b / /\nCOPY --from=0 /x /y\nADD local.tar /\n"
    assert remote_sources(text, BASE) == []


# ---- with a Docker engine ----------------------------------------------------------------------------


@pytest.fixture
def ctx(server_image: str, tmp_path: Path) -> Iterator[Context]:
    # The session's image build (tests/conftest.py) makes the base image on the offline path.
    if requirements.missing("base-image"):
        require_docker(f"the base image {BASE} is missing: make base-image")
    if engine := builds.bounded_here():
        pytest.skip(f"bounded builds need cgroup v1 with the cgroupfs driver; this engine has {engine}")
    lab = spec.resolve("02")
    check = next(c for c in lab.checks if c.id == "container.ready")
    context = Context(root=tmp_path / "sub", lab=lab, check=check, run_id=f"t{time.monotonic_ns() % 10**8}")
    yield context
    for cleanup in reversed(context.cleanups):
        cleanup()


def _leftovers(result: builds.Build, run_id: str) -> list[str]:
    """Containers and images of this build (by id) and of this run (by name) still present."""
    ids = subprocess.run(
        ["docker", "ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.Names}}"], capture_output=True, text=True
    ).stdout
    left = [c for c in result.containers if c in ids] + [n for n in ids.split() if n.startswith(f"ahl-grader-{run_id}")]
    for image in result.images:
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
            left.append(image)
    return left


def _build(ctx: Context, tmp_path: Path, text: str, build_s: float = 60) -> builds.Build:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    (tmp_path / "context").mkdir(exist_ok=True)
    result = builds.build(ctx, dockerfile, tmp_path / "context", f"{ctx.name('image')}:t", {}, BASE, build_s)
    for cleanup in reversed(ctx.cleanups):
        cleanup()
    ctx.cleanups.clear()
    assert _leftovers(result, ctx.run_id) == []
    return result


@pytest.mark.docker
def test_a_secret_on_the_hosts_loopback_is_never_fetched(ctx: Context, secret_server: tuple[int, list[str]]) -> None:
    port, hits = secret_server
    dockerfile = ctx.root / "model_server/Dockerfile"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_text(_with_builder_lines(f"ADD http://127.0.0.1:{port}/secret.txt /s", "RUN cat /s && exit 1"))
    with pytest.raises(Fail) as failed:
        container_ready(ctx, build_s=120)
    assert hits == [] and "TOP-SECRET" not in str(failed.value)
    assert "not built" in str(failed.value)


@pytest.mark.docker
def test_processes_are_bounded_by_the_build_cgroup(ctx: Context, tmp_path: Path) -> None:
    start = time.monotonic()
    result = _build(ctx, tmp_path, f"FROM {BASE}\nRUN for i in $(seq 1 1500); do sleep 60 & done; wait\n")
    assert not result.ok and "fork" in result.log.lower(), result.log
    assert time.monotonic() - start < 30


@pytest.mark.docker
def test_one_big_file_is_capped_and_many_are_stopped(ctx: Context, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(builds, "FILE_BYTES", 100 * 1024**2)
    monkeypatch.setattr(builds, "DISK_BYTES", 300_000_000)
    one = _build(ctx, tmp_path, f"FROM {BASE}\nRUN head -c 3G /dev/zero >/big\n")
    assert not one.ok and "File size limit exceeded" in one.log, one.log
    many = _build(ctx, tmp_path, f"FROM {BASE}\nRUN for i in $(seq 1 30); do head -c 90M /dev/zero >/f$i; done\n")
    assert not many.ok and "GB of layers" in many.stopped, many.log


@pytest.mark.docker
def test_the_build_time_limit_stops_a_sleeping_build(ctx: Context, tmp_path: Path) -> None:
    start = time.monotonic()
    result = _build(ctx, tmp_path, f"FROM {BASE}\nRUN echo layer >/one\nRUN sleep 100000\n", build_s=8)
    assert not result.ok and "build time limit" in result.stopped
    assert time.monotonic() - start < 30 and len(result.images) == 1  # the first RUN's layer, removed


@pytest.mark.docker
def test_a_multi_stage_build_leaves_no_layer(ctx: Context, tmp_path: Path) -> None:
    marker = f"ahl-leftover-{ctx.run_id}"
    text = (
        f"ARG BASE_IMAGE={BASE}\nFROM ${{BASE_IMAGE}} AS a\nRUN echo {marker} >/x\nENV A=1\nFROM scratch AS s\n"
        f"COPY --from=a /x /x\nFROM ${{BASE_IMAGE}}\nCOPY --from=s /x /y\nLABEL {marker}=1\n"
    )
    result = _build(ctx, tmp_path, text)
    assert result.ok and len(result.images) == 5, result.log
    images = subprocess.run(["docker", "images", "--all", "--quiet"], capture_output=True, text=True).stdout.split()
    for image in set(images):
        made_by = subprocess.run(
            ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image], capture_output=True, text=True
        ).stdout
        assert marker not in made_by, f"image {image} of this build was left behind"


def test_without_the_means_to_bound_a_build_only_a_self_check_builds(monkeypatch, tmp_path: Path) -> None:
    from grader.verdict import Skip

    monkeypatch.setattr(builds, "bounded_here", lambda: "systemd 2")
    lab = spec.resolve("02")
    ctx = Context(root=tmp_path, lab=lab, check=lab.checks[-1], run_id="selfcheck")
    assert builds.limits_parent(ctx, BASE, 60) is None  # the learner's own Dockerfile, no process bound
    ctx = dataclasses.replace(ctx, batch=True)
    with pytest.raises(Skip, match="cgroup v1"):
        builds.limits_parent(ctx, BASE, 60)  # other people's Dockerfiles: never unbounded
