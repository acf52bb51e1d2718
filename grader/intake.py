"""Submissions into a private temporary copy: a folder, a git repository, a .zip or a .tar.gz.

Refused (the whole submission, with the reason): symlinks that lead outside it, archive members
with `..` or an absolute path, links, devices, and more than GRADER_MAX_FILES files or GRADER_MAX_BYTES bytes
unpacked (zip bombs are caught while reading, not trusted from the headers).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from grader import gitdata
from grader.settings import get_settings

# unpack_isolated's deadline (its memory cap, and the files and bytes a submission may unpack to: GraderSettings).
TIMEOUT_S = 300
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", "models", "wheelhouse"}
ARCHIVES = (".zip", ".tar.gz", ".tgz")
# Top-level folders of the repository: a submission holding only one of them is not wrapped in a folder.
REPO_DIRS = {"labs", "model_server", "docker", "k8s", "loadtest", "grader", "scripts", "tests", "models"}


class Refused(ValueError):
    """The submission cannot be graded safely; the message says why."""


class _Budget:
    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.files, self.bytes = max_files, max_bytes
        self.max_files, self.max_bytes = max_files, max_bytes

    def file(self, name: str) -> None:
        self.files -= 1
        if self.files < 0:
            raise Refused(f"more than {self.max_files} files (at {name})")

    def take(self, n: int, name: str) -> None:
        self.bytes -= n
        if self.bytes < 0:
            raise Refused(f"more than {self.max_bytes / 1e6:g} MB unpacked (at {name})")


def safe_name(name: str) -> str:
    """A file name as printable text: bytes that are not UTF-8 and control characters become escapes
    (`\\xff`, `\\x1b`), so a name can reach a CSV file, a terminal or a folder name unchanged."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def student_name(path: Path) -> str:
    name = safe_name(path.name)
    for ext in (*ARCHIVES, ".git"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _safe_member(name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise Refused(f"archive member {name!r} has an absolute path or `..`")
    return p


def _copy_stream(src, dest: Path, budget: _Budget, name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            budget.take(len(chunk), name)
            out.write(chunk)


def _from_folder(src: Path, dest: Path, budget: _Budget) -> None:
    root = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                target = (here / d).resolve()
                if not target.is_relative_to(root):
                    raise Refused(f"symlink {(here / d).relative_to(src)} points outside the submission")
                dirnames.remove(d)  # an inner directory link would duplicate files; its target is copied anyway
        for f in sorted(filenames):
            path = here / f
            rel = path.relative_to(src)
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    raise Refused(f"symlink {rel} points outside the submission (to {os.readlink(path)})")
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                raise Refused(f"{rel} is not a regular file")
            budget.file(str(rel))
            with path.open("rb") as fh:
                _copy_stream(fh, dest / rel, budget, str(rel))


def _from_zip(src: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(src) as zf:
        for info in zf.infolist():
            rel = _safe_member(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Refused(f"archive member {info.filename!r} is a symlink")
            if info.is_dir():
                continue
            budget.file(info.filename)
            with zf.open(info) as fh:
                _copy_stream(fh, dest / rel, budget, info.filename)


def _members(tf: tarfile.TarFile, dest: Path, budget: _Budget) -> None:
    for member in tf:
        rel = _safe_member(member.name)
        if member.isdir() or member.type == tarfile.XGLTYPE:  # git archive writes a global header
            continue
        if not member.isfile():
            raise Refused(f"archive member {member.name!r} is a link or device")
        budget.file(member.name)
        fh = tf.extractfile(member)
        if fh is not None:
            _copy_stream(fh, dest / rel, budget, member.name)


def _from_tar(src: Path, dest: Path, budget: _Budget) -> None:
    with tarfile.open(src, "r:*") as tf:
        _members(tf, dest, budget)


def _from_bare_git(src: Path, dest: Path, budget: _Budget) -> None:
    """A bare repository (no work tree): its HEAD commit, read as data (grader.gitdata)."""
    objects = _Budget(1, budget.max_bytes)  # packed objects are compressed: the same byte cap, counted apart

    def entry(path: str, size: int) -> None:
        _safe_member(path)
        budget.file(path)
        budget.take(size, path)

    def write(path: str, size: int, reader: subprocess.Popen[bytes]) -> None:
        assert reader.stdout
        target = dest / _safe_member(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while size:
                chunk = reader.stdout.read(min(size, 1 << 20))
                if not chunk:
                    raise Refused(f"{path}: the repository ended early")
                out.write(chunk)
                size -= len(chunk)

    try:
        gitdata.read_head(src, objects.take, entry, write)
    except gitdata.GitRefused as exc:
        raise Refused(str(exc)) from None


def unpack(src: Path, dest: Path, max_files: int | None = None, max_bytes: int | None = None) -> Path:
    """Copy or extract `src` into `dest`; returns the submission root (a lone top folder is stepped into)."""
    settings = get_settings()
    budget = _Budget(max_files or settings.max_files, max_bytes or settings.max_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if src.is_symlink() and not src.resolve().is_relative_to(src.parent.resolve()):
            raise Refused("the submission itself is a symlink to elsewhere")
        if src.is_dir() and (src / "HEAD").is_file() and (src / "objects").is_dir():
            _from_bare_git(src, dest, budget)
        elif src.is_dir():
            _from_folder(src, dest, budget)
        elif src.name.endswith(".zip"):
            _from_zip(src, dest, budget)
        elif src.name.endswith((".tar.gz", ".tgz")):
            _from_tar(src, dest, budget)
        else:
            raise Refused(f"{src.name} is not a folder, .zip or .tar.gz")
    except Refused:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except MemoryError:
        shutil.rmtree(dest, ignore_errors=True)
        raise Refused(f"cannot unpack {safe_name(src.name)}: it needs more memory than the grader allows") from None
    except Exception as exc:  # any way a hostile file breaks a reader (encrypted, corrupt, loops, bad names)
        shutil.rmtree(dest, ignore_errors=True)
        raise Refused(f"cannot unpack {safe_name(src.name)}: {type(exc).__name__}: {exc!s:.300}") from None
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in REPO_DIRS:
        return entries[0]  # an archive of the repository folder itself (`alice-repo/...`)
    return dest


def unpack_isolated(src: Path, dest: Path, timeout: float = TIMEOUT_S) -> Path:
    """`unpack` in a child process with a memory cap and a deadline: a reader tricked into allocating (a tar
    PAX header of gigabytes in a few hundred kB of gzip) or into looping fails this submission only."""
    cmd: list[str | bytes] = [sys.executable, "-m", "grader.intake", os.fsencode(src), os.fsencode(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=Path(__file__).parents[1])
    except subprocess.TimeoutExpired:
        shutil.rmtree(dest, ignore_errors=True)
        raise Refused(f"unpacking took longer than {timeout:g} s") from None
    lines = proc.stdout.splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else {}
    except ValueError:
        reply = {}
    if "root" in reply:
        return Path(reply["root"])
    shutil.rmtree(dest, ignore_errors=True)
    why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
    raise Refused(
        reply.get("refused")
        or f"unpacking failed within its {get_settings().intake_memory / 2**30:g} GiB cap: {why[0]:.200}"
    )


def main() -> None:
    """`python -m grader.intake SRC DEST`: one JSON line, {"root": ...} or {"refused": ...}."""
    memory = get_settings().intake_memory
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        reply = {"root": str(unpack(Path(sys.argv[1]), Path(sys.argv[2])))}
    except Refused as exc:
        reply = {"refused": str(exc)}
    print(json.dumps(reply))


if __name__ == "__main__":
    main()
