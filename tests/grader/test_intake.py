"""Submissions are copied or unpacked safely: zip-slip, absolute paths, links out, bombs are refused."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader import intake


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_zip_with_one_top_folder_is_stepped_into(tmp_path: Path) -> None:
    src = _zip(tmp_path / "alice.zip", {"repo/model_server/Dockerfile": b"FROM x:1\n"})
    root = intake.unpack(src, tmp_path / "out")
    assert (root / "model_server/Dockerfile").read_bytes() == b"FROM x:1\n"
    assert intake.student_name(src) == "alice"


def test_a_submission_of_one_repository_folder_is_not_stepped_into(tmp_path: Path) -> None:
    """Lab 02's work is model_server/Dockerfile alone: that folder is the repository's, not a wrapper."""
    src = _zip(tmp_path / "dan.zip", {"model_server/Dockerfile": b"FROM x:1\n"})
    root = intake.unpack(src, tmp_path / "out")
    assert (root / "model_server/Dockerfile").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_zip_slip_members_are_refused(tmp_path: Path, name: str) -> None:
    src = _zip(tmp_path / "s.zip", {name: b"x"})
    with pytest.raises(intake.Refused, match=r"absolute path or `\.\.`"):
        intake.unpack(src, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_a_zip_bomb_is_stopped_while_reading(tmp_path: Path) -> None:
    src = _zip(tmp_path / "bomb.zip", {"big": b"\0" * 5_000_000})
    with pytest.raises(intake.Refused, match="MB unpacked"):
        intake.unpack(src, tmp_path / "out", max_bytes=1_000_000)
    assert not (tmp_path / "out").exists()


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    src = _zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(30)})
    with pytest.raises(intake.Refused, match="more than"):
        intake.unpack(src, tmp_path / "out", max_files=10)


def test_tar_links_and_absolute_paths_are_refused(tmp_path: Path) -> None:
    for name, kind in (("link", tarfile.SYMTYPE), ("/abs", tarfile.REGTYPE)):
        src = tmp_path / f"{kind!r}.tar.gz"
        with tarfile.open(src, "w:gz") as tf:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd"
            tf.addfile(info, io.BytesIO(b""))
        with pytest.raises(intake.Refused):
            intake.unpack(src, tmp_path / f"out-{name.strip('/')}")


def test_a_symlink_out_of_a_folder_is_refused_but_one_inside_is_copied(tmp_path: Path) -> None:
    sub = tmp_path / "bob"
    (sub / "a").mkdir(parents=True)
    (sub / "a/real.txt").write_text("ok")
    (sub / "inside").symlink_to(sub / "a/real.txt")
    root = intake.unpack(sub, tmp_path / "out1")
    assert (root / "inside").read_text() == "ok" and not (root / "inside").is_symlink()
    (sub / "escape").symlink_to("/etc/hostname")
    with pytest.raises(intake.Refused, match="symlink escape points outside"):
        intake.unpack(sub, tmp_path / "out2")


def test_a_git_repository_is_copied_without_its_git_folder(tmp_path: Path) -> None:
    sub = tmp_path / "carol"
    sub.mkdir()
    (sub / "x.txt").write_text("x")
    subprocess.run(["git", "-C", str(sub), "init", "-q"], check=True)
    root = intake.unpack(sub, tmp_path / "out")
    assert (root / "x.txt").exists() and not (root / ".git").exists()


def test_a_bare_git_repository_gives_its_head_commit(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "x.txt").write_text("committed")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "x.txt"], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *args], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(tmp_path / "erin.git")], check=True)
    root = intake.unpack(tmp_path / "erin.git", tmp_path / "out")
    assert (root / "x.txt").read_text() == "committed"


def test_junk_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "junk.zip"
    src.write_bytes(os.urandom(2000))
    with pytest.raises(intake.Refused, match="cannot unpack"):
        intake.unpack(src, tmp_path / "out")
