"""A submitted bare git repository, read as data.

Git honours a repository's own files: config (filters, fsmonitor, pager, sshCommand, includes, ...),
attributes, hooks, `objects/info/alternates` (objects from any other repository on the host), grafts
and replace refs. None of them is read here: HEAD and refs are resolved by this module, only object
files (loose objects and packs: regular files, no links) are copied into a fresh repository the grader
creates, and git runs there with a clean environment and reads trees and blobs raw (`ls-tree`,
`cat-file --batch`: no filters, no textconv). Sizes come from the tree listing, so a blob over the
budget is refused before a byte of it is written.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from grader.settings import search_path

SHA = re.compile(rb"[0-9a-f]{40}")
REF = re.compile(r"refs/[A-Za-z0-9._/-]+")
LOOSE_DIR = re.compile(r"[0-9a-f]{2}")
LOOSE_FILE = re.compile(r"[0-9a-f]{38}")
PACK_FILE = re.compile(r"pack-[0-9a-f]{40}\.(pack|idx)")
DEADLINE_S = 120
MAX_OBJECT_FILES = 100_000


class GitRefused(ValueError):
    pass


def _read_small(path: Path, limit: int = 1 << 20) -> bytes:
    """A regular file (never through a link), at most `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise FileNotFoundError(path) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise FileNotFoundError(path)
        return fh.read(limit)


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def head_commit(src: Path) -> str:
    """The object HEAD names, following symbolic refs through loose refs and packed-refs only."""
    head = _read_small(src / "HEAD", 4096).strip()
    for _ in range(5):
        if SHA.fullmatch(head):
            return head.decode()
        name = head.removeprefix(b"ref:").strip().decode(errors="replace")
        if not head.startswith(b"ref:") or not REF.fullmatch(name) or ".." in name:
            raise GitRefused(f"HEAD names {name[:80]!r}, not a commit or a branch under refs/")
        parts = name.split("/")
        if all(_real_dir(src.joinpath(*parts[:i])) for i in range(1, len(parts))):
            try:
                head = _read_small(src.joinpath(*parts), 4096).strip()
                continue
            except FileNotFoundError:
                pass
        try:
            packed = _read_small(src / "packed-refs", 10 << 20)
        except FileNotFoundError:
            packed = b""
        found = [ln.split(b" ", 1)[0] for ln in packed.splitlines() if ln.endswith(b" " + name.encode())]
        if not found:
            raise GitRefused(f"HEAD names {name}, which does not exist")
        head = found[0]
    raise GitRefused("HEAD: too many levels of symbolic refs")


def clean_env(home: Path) -> dict[str, str]:
    """No system or global config, no GIT_* variable of the caller, an empty home."""
    return {
        "PATH": search_path(),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


def _copy_objects(src: Path, objects: Path, take: Callable[[int, str], None]) -> None:
    """Loose objects and packs, regular files only; never info/ (alternates, commit-graph, packs list)."""
    if not _real_dir(src / "objects"):
        raise GitRefused("objects/ is not a folder")
    copied = 0
    for entry in os.scandir(src / "objects"):
        pattern = PACK_FILE if entry.name == "pack" else LOOSE_FILE if LOOSE_DIR.fullmatch(entry.name) else None
        if pattern is None or not entry.is_dir(follow_symlinks=False):
            continue
        names = [e.name for e in os.scandir(entry.path) if pattern.fullmatch(e.name)]
        (objects / entry.name).mkdir(exist_ok=True)
        copied += len(names)
        if copied > MAX_OBJECT_FILES:
            raise GitRefused(f"more than {MAX_OBJECT_FILES} object files")
        for name in names:
            path = Path(entry.path) / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # a link: not this repository's object
            with os.fdopen(fd, "rb") as fh, (objects / entry.name / name).open("wb") as out:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    continue
                while chunk := fh.read(1 << 20):
                    take(len(chunk), f"objects/{entry.name}/{name}")
                    out.write(chunk)


def _lines(proc: subprocess.Popen[bytes], deadline: float) -> Iterator[bytes]:
    """NUL-terminated records of a process's output, read as it is written."""
    assert proc.stdout
    buf = b""
    while chunk := os.read(proc.stdout.fileno(), 1 << 16):
        if time.monotonic() > deadline:
            raise GitRefused(f"reading the repository took longer than {DEADLINE_S} s")
        buf += chunk
        *records, buf = buf.split(b"\0")
        yield from records


def read_head(
    src: Path,
    object_budget: Callable[[int, str], None],
    entry: Callable[[str, int], None],
    write: Callable[[str, int, subprocess.Popen[bytes]], None],
) -> None:
    """Each file of HEAD's tree: `entry(path, size)` first (budget, checks), then `write(path, size, reader)`
    where the reader's stdout holds exactly `size` bytes of the blob."""
    commit = head_commit(src)
    deadline = time.monotonic() + DEADLINE_S
    with tempfile.TemporaryDirectory(prefix="ahl-git-") as tmp:
        env = clean_env(Path(tmp))
        repo = Path(tmp) / "repo.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "--template=", str(repo)], env=env, check=True, capture_output=True
        )
        _copy_objects(src, repo / "objects", object_budget)
        git = ["git", "--git-dir", str(repo), "--no-replace-objects"]
        kind = subprocess.run([*git, "cat-file", "-t", commit], env=env, capture_output=True, timeout=60)
        if kind.stdout.strip() != b"commit":
            raise GitRefused(f"HEAD's commit {commit[:12]} is not in the repository's own objects")
        files: list[tuple[str, str, int]] = []
        with subprocess.Popen(
            [*git, "ls-tree", "-r", "-z", "--long", "--full-tree", commit],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        ) as lister:  # fmt: skip
            try:
                for record in _lines(lister, deadline):
                    meta, _, raw_path = record.partition(b"\t")
                    mode, kind_, oid, nbytes = meta.split()
                    path = os.fsdecode(raw_path)
                    if kind_ == b"commit":
                        continue  # a submodule: its content is not in this repository
                    if mode == b"120000":
                        raise GitRefused(f"{path} is a symlink")
                    entry(path, int(nbytes))
                    files.append((path, oid.decode(), int(nbytes)))
            finally:
                lister.kill()
        if lister.returncode not in (0, -9):
            raise GitRefused(f"cannot list HEAD's tree (git exit {lister.returncode})")
        with subprocess.Popen(
            [*git, "cat-file", "--batch"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as reader:  # fmt: skip
            assert reader.stdin and reader.stdout
            try:
                for path, sha, size in files:
                    if time.monotonic() > deadline:
                        raise GitRefused(f"reading the repository took longer than {DEADLINE_S} s")
                    reader.stdin.write(sha.encode() + b"\n")
                    reader.stdin.flush()
                    header = reader.stdout.readline().split()
                    if header[1:] != [b"blob", str(size).encode()]:
                        raise GitRefused(f"cannot read {path}: {b' '.join(header).decode(errors='replace')}")
                    write(path, size, reader)
                    reader.stdout.read(1)  # the LF after each object
            finally:
                reader.kill()
