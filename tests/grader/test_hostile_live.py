"""The hostile batch: every kind of bad submission between good ones, graded live (lab 02 builds images).
It finishes with one row per submission and a summary, leaves no image, container or file behind, and
nothing from a submission runs outside the sandbox. A worker killed in the middle of a build leaves
nothing either."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader import builds, intake, requirements
from loadtest.preflight import poll
from tests.grader.conftest import ROOT, copy_lab
from tests.grader.test_hostile_batch import BAD
from tests.grader.test_hostile_git import _bare, _git, _repo

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DOCKERFILE = "model_server/Dockerfile"
REFERENCE = (ROOT / DOCKERFILE).read_text()


@pytest.fixture(scope="module", autouse=True)
def _images(server_image: str) -> None:
    """The session's image build (tests/conftest.py) makes the base image and the wheelhouse on the offline path."""
    for need in ("base-image", "wheelhouse", "models"):
        if requirements.missing(need):
            pytest.skip(f"{need}: {requirements.missing(need)} ({requirements.PROVIDES[need]})")
    if engine := builds.bounded_here():
        pytest.skip(f"bounded builds need cgroup v1 with the cgroupfs driver; this engine has {engine}")


def _dockerfile(dest: Path, *builder_lines: str, root_user: bool = False) -> Path:
    """The reference Dockerfile with lines at the top of its builder stage (or run as root: no build)."""
    anchor = "FROM ${BASE_IMAGE} AS builder\n"
    text = REFERENCE.replace(anchor, anchor + "".join(f"{ln}\n" for ln in builder_lines), 1)
    if root_user:
        text = text.replace("USER 10001:10001", "USER root")
    (dest / DOCKERFILE).parent.mkdir(parents=True, exist_ok=True)
    (dest / DOCKERFILE).write_text(text)
    return dest


def _marked_images(marker: str) -> list[str]:
    """Images whose history holds `marker` (a RUN line of the submission that built them)."""
    left = []
    for image in set(subprocess.run(["docker", "images", "-aq"], capture_output=True, text=True).stdout.split()):
        history = ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image]
        if marker in subprocess.run(history, capture_output=True, text=True).stdout:
            left.append(image)
    return left


def _limits_containers() -> set[str]:
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    return {n for n in names.split() if n.endswith("-build-limits")}


def _grade(subs: Path, out: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    tmp.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "grader", "grade", os.fsencode(subs), "--lab", "02", "--out", str(out), *args],
        cwd=ROOT, capture_output=True, timeout=1500,
        env={**os.environ, "TMPDIR": str(tmp), "GRADER_INTAKE_MEMORY": str(256 * 2**20)},
    )  # fmt: skip


def test_the_hostile_batch(tmp_path: Path, secret_server: tuple[int, list[str]]) -> None:
    marker = f"ahl-hostile-{uuid.uuid4().hex[:8]}"
    mark = f"RUN echo {marker}"
    port, hits = secret_server
    subs, pwned = tmp_path / "subs", tmp_path / "PWNED"
    subs.mkdir()
    copy_lab("02", subs / "a-good")
    # git: filters and hooks of the submitted repository, alternates into another one
    work = _repo(tmp_path / "w", {".gitattributes": b"* filter=pwn\n"})
    _dockerfile(work, mark, root_user=True)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "d")
    smudge = _bare(work, subs / "b-smudge.git")
    _git(smudge, "config", "filter.pwn.smudge", f"sh -c 'id >{pwned}; cat'")
    _git(smudge, "config", "core.fsmonitor", f"sh -c 'id >{pwned}'")
    reference = _repo(tmp_path / "reference", {"secret.txt": b"reference answers\n"})
    alternates = subs / "c-alternates.git"
    subprocess.run(["git", "init", "-q", "--bare", str(alternates)], check=True)
    (alternates / "objects/info/alternates").write_text(f"{reference / '.git/objects'}\n")
    (alternates / "refs/heads/master").write_text(_git(reference, "rev-parse", "HEAD") + "\n")
    # archives and folders that break readers, names that break outputs
    for kind, make in BAD.items():
        make(subs / f"d-{kind}")
    _dockerfile(Path(os.fsdecode(os.fsencode(subs) + b"/e-\xff\xfe")), mark, root_user=True)
    _dockerfile(subs / "=2+5", mark, root_user=True)
    _dockerfile(subs / "\x1b[31mred\x07", mark, root_user=True)
    _dockerfile(subs / "alice", mark, root_user=True)
    (subs / "alice.zip").write_bytes(b"not a zip")
    # Dockerfiles that reach for the host, fork, fill the disk
    _dockerfile(subs / "f-add-url", mark, f"ADD http://127.0.0.1:{port}/secret.txt /s", "RUN cat /s && exit 1")
    _dockerfile(subs / "g-fork", mark, "RUN for i in $(seq 1 1500); do sleep 60 & done; wait")
    _dockerfile(subs / "h-big-file", mark, "RUN head -c 3G /dev/zero >/big")
    _dockerfile(subs / "i-many-files", mark, "RUN for i in 1 2 3 4 5 6; do head -c 400M /dev/zero >/f$i; done")
    copy_lab("02", subs / "z-good")
    expected = len(list(subs.iterdir()))

    limits_before = _limits_containers()
    start = time.monotonic()
    proc = _grade(subs, tmp_path / "out", tmp_path / "tmp", "--jobs", "2")
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    with (tmp_path / "out/gradebook.csv").open(newline="", encoding="utf-8") as fh:
        book = {r["student"]: r for r in csv.DictReader(fh) if r["student"] != "POINTS POSSIBLE"}
    print(f"\nhostile batch: {len(book)} rows in {took:.0f} s")
    for name, row in book.items():
        print(f"  {name:28} {row['grading_status']:8} {row['score']}/{row['max_score']} {row['container.ready']}")
    assert len(book) == expected and (tmp_path / "out/summary.md").exists()
    full = book["a-good"]["max_score"]
    assert book["a-good"]["score"] == book["z-good"]["score"] == full
    assert all(book[f"d-{intake.student_name(Path(k))}"]["grading_status"] == "error" for k in BAD)
    assert book["c-alternates"]["grading_status"] == "error"
    assert book["b-smudge"]["grading_status"] == "ok" and book["b-smudge"]["dockerfile.non_root"] == "0"
    for name in ("f-add-url", "g-fork", "h-big-file", "i-many-files"):
        assert book[name]["container.ready"] == "0", name
        result = json.loads((tmp_path / "out/students" / name / "result.json").read_text())
        (check,) = (c for c in result["checks"] if c["id"] == "container.ready")
        print(f"  {name}: {check['duration_s']:.0f} s, {check['feedback'].splitlines()[0][:150]}")
    assert {"alice", "alice.zip", "'=2+5", "e-\\xff\\xfe", "\\x1b[31mred\\x07"} <= set(book)
    assert b"\x1b" not in proc.stdout + proc.stderr
    assert hits == [] and not pwned.exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert _marked_images(marker) == []
    assert poll(lambda: not (_limits_containers() - limits_before) or None, 15) is not None  # others' may run now


def test_a_worker_killed_in_the_middle_of_a_build_leaves_nothing(tmp_path: Path) -> None:
    marker = f"ahl-killed-{uuid.uuid4().hex[:8]}"
    _dockerfile(tmp_path / "subs/slow", f"RUN echo {marker} >/one", "RUN sleep 100000")
    start = time.monotonic()
    proc = _grade(tmp_path / "subs", tmp_path / "out", tmp_path / "tmp", "--timeout", "25")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    assert b"slow: timeout" in proc.stderr and time.monotonic() - start < 90
    assert _marked_images(marker) == []
    assert list((tmp_path / "tmp").iterdir()) == []
