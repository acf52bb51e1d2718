"""A submitted bare git repository is data: its own configuration, attributes, hooks and alternates
never run or reach anything on the grading host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grader import intake

ANSWERS = "labs/00-concepts/answers.yaml"


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _repo(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q")
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "x")
    return path


def _bare(work: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(dest)], check=True)
    return dest


def test_smudge_filters_attributes_hooks_and_config_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    raw = b"q01: b\n$Id$\nline\n"
    work = _repo(tmp_path / "w", {ANSWERS: raw, ".gitattributes": b"* filter=pwn ident eol=crlf diff=pwn\n"})
    bare = _bare(work, tmp_path / "subs" / "mallory.git")
    evil = f"sh -c 'echo ran >>{marker}; cat'"
    for key in ("filter.pwn.smudge", "filter.pwn.clean", "core.fsmonitor", "core.pager",
                "core.sshCommand", "diff.pwn.textconv", "core.hooksPath", "core.askPass", "gpg.program"):  # fmt: skip
        _git(bare, "config", key, evil if key != "core.hooksPath" else str(tmp_path / "hooks"))
    _git(bare, "config", "filter.pwn.required", "true")
    _git(bare, "config", "include.path", str(tmp_path / "extra.cfg"))
    (tmp_path / "extra.cfg").write_text(f"[core]\n\tfsmonitor = {evil}\n")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-auto-gc", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\necho ran >>{marker}\n")
        (hooks / hook).chmod(0o755)
        (bare / "hooks" / hook).write_text(f"#!/bin/sh\necho ran >>{marker}\n")
        (bare / "hooks" / hook).chmod(0o755)
    root = intake.unpack(bare, tmp_path / "out")
    assert not marker.exists(), "a command from the submission ran on the grading host"
    assert (root / ANSWERS).read_bytes() == raw  # the committed bytes: no filter, no ident, no eol conversion


def test_alternates_never_reach_another_repository(tmp_path: Path) -> None:
    """HEAD names a commit that only the instructor's repository holds, reached through alternates."""
    reference = _repo(tmp_path / "reference", {ANSWERS: b"q01: REFERENCE\n"})
    head = _git(reference, "rev-parse", "HEAD")
    bare = tmp_path / "subs" / "mallory.git"
    bare.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (bare / "objects/info/alternates").write_text(f"{reference / '.git/objects'}\n")
    (bare / "refs/heads/master").write_text(head + "\n")
    (bare / "HEAD").write_text("ref: refs/heads/master\n")
    with pytest.raises(intake.Refused):
        intake.unpack(bare, tmp_path / "out")
    assert not list((tmp_path).glob("out/**/answers.yaml"))


def test_objects_linked_to_elsewhere_are_not_read(tmp_path: Path) -> None:
    """A symlink in objects/ to another repository's pack is the alternates attack by other means."""
    reference = _repo(tmp_path / "reference", {ANSWERS: b"q01: REFERENCE\n"})
    _git(reference, "gc", "-q")
    head = _git(reference, "rev-parse", "HEAD")
    bare = tmp_path / "subs" / "mallory.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for pack in (reference / ".git/objects/pack").iterdir():
        (bare / "objects/pack" / pack.name).symlink_to(pack)
    (bare / "packed-refs").write_text(f"{head} refs/heads/master\n")
    with pytest.raises(intake.Refused):
        intake.unpack(bare, tmp_path / "out")


def test_a_head_that_leads_outside_the_repository_is_refused(tmp_path: Path) -> None:
    work = _repo(tmp_path / "w", {ANSWERS: b"q01: b\n"})
    bare = _bare(work, tmp_path / "subs" / "eve.git")
    (bare / "HEAD").write_text("ref: ../../../../etc/hostname\n")
    with pytest.raises(intake.Refused, match="HEAD"):
        intake.unpack(bare, tmp_path / "out")


def test_a_big_blob_is_refused_before_it_is_written(tmp_path: Path) -> None:
    work = _repo(tmp_path / "w", {"big.bin": b"\0" * 20_000_000, ANSWERS: b"q01: b\n"})
    bare = _bare(work, tmp_path / "subs" / "big.git")
    with pytest.raises(intake.Refused, match=r"MB unpacked \(at big.bin\)"):
        intake.unpack(bare, tmp_path / "out", max_bytes=1_000_000)
    assert not (tmp_path / "out").exists()


def test_a_packed_bare_repository_with_a_symbolic_head_reads_its_tree(tmp_path: Path) -> None:
    work = _repo(tmp_path / "w", {ANSWERS: b"q01: b\n", "run.sh": b"#!/bin/sh\n"})
    (work / "run.sh").chmod(0o755)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "exec bit")
    bare = _bare(work, tmp_path / "subs" / "frank.git")
    _git(bare, "gc", "-q")  # refs packed, objects in a pack
    root = intake.unpack(bare, tmp_path / "out")
    assert (root / ANSWERS).read_bytes() == b"q01: b\n"
    assert (root / "run.sh").read_bytes() == b"#!/bin/sh\n"
