"""The student edition: every solution region of every text file becomes one TODO line.

Markers (whole-line comments in the file's own syntax; regions do not nest):
    # BEGIN SOLUTION (lab NN): <what the learner should do>      (<!-- ... --> in Markdown)
    ...
    # END SOLUTION
Release fails when a marker is malformed, or when any solution line can still be found in the output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from grader.spec import REPO_ROOT, LabSpec

_BEGIN = re.compile(
    r"^(?P<indent>\s*)(?P<open>#|//|--|;|<!--)\s*BEGIN SOLUTION\s*\(lab (?P<lab>\d\d)\)\s*:"
    r"\s*(?P<text>.*?)\s*(?P<close>-->)?\s*$"
)
_END = re.compile(r"^\s*(#|//|--|;|<!--)\s*END SOLUTION\b.*$")
_ANY = re.compile(r"\b(BEGIN|END) SOLUTION\b")
# Lines too generic to prove a leak (closing brackets, `fi`, `- name: x`...): at least this many word characters.
MIN_WORD_CHARS = 12
WINDOW = 3
VERBATIM = ("grader/",)
# The reference's own test suites assert the reference solution and carry fixtures that embody it.
EXCLUDE = ("tests/",)


class ReleaseError(RuntimeError):
    pass


@dataclass
class Region:
    lab: str
    todo: str
    path: str
    start: int
    lines: list[str] = field(default_factory=list)


def strip(text: str, path: str) -> tuple[str, list[Region]]:
    """The text with each region replaced by its TODO line, and the regions found."""
    out: list[str] = []
    regions: list[Region] = []
    current: Region | None = None
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        begin = _BEGIN.match(line.rstrip("\n"))
        if begin:
            if current:
                raise ReleaseError(
                    f"{path}:{n}: BEGIN SOLUTION inside the region opened at line {current.start} (regions do not nest)"
                )
            if not begin["text"]:
                raise ReleaseError(f"{path}:{n}: BEGIN SOLUTION without the TODO text for the learner")
            current = Region(begin["lab"], begin["text"], path, n)
            close = " -->" if begin["open"] == "<!--" else ""
            out.append(f"{begin['indent']}{begin['open']} TODO (lab {begin['lab']}): {begin['text']}{close}\n")
        elif _END.match(line):
            if not current:
                raise ReleaseError(f"{path}:{n}: END SOLUTION without a BEGIN")
            regions.append(current)
            current = None
        elif _ANY.search(line) and re.match(r"^\s*(#|//|--|;|<!--)", line):
            raise ReleaseError(f"{path}:{n}: malformed solution marker; use `# BEGIN SOLUTION (lab NN): <todo>`")
        elif current:
            current.lines.append(line.rstrip("\n"))
        else:
            out.append(line)
    if current:
        raise ReleaseError(f"{path}:{current.start}: BEGIN SOLUTION is never closed with END SOLUTION")
    return "".join(out), regions


def repo_files(root: Path) -> list[str]:
    """Files of the working tree that git would ship (tracked, plus new files that are not ignored)."""
    proc = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ReleaseError(f"{root} is not a git working tree: {proc.stderr.strip()}")
    return sorted({f for f in proc.stdout.split("\0") if f and (root / f).is_file()})


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _significant(line: str) -> bool:
    return sum(ch.isalnum() for ch in line) >= MIN_WORD_CHARS


@dataclass
class Release:
    files: int
    regions: list[Region]
    removed: list[str]


def release(out: Path, labs: dict[str, LabSpec], root: Path = REPO_ROOT) -> Release:
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} exists and is not empty; choose a new folder")
    remove = [
        f"labs/{lab.folder}/{r}".rstrip("/") for lab in labs.values() for r in [*lab.release_remove, *lab.grader_keys]
    ]
    files, regions, removed = 0, [], []
    written: dict[str, str] = {}
    for rel in repo_files(root):
        if rel.startswith(EXCLUDE) or any(rel == r or rel.startswith(r + "/") for r in remove):
            removed.append(rel)
            continue
        src, dest = root / rel, out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = _text(src)
        # The grader's own code and fixtures talk about the markers; they ship as they are.
        if text is None or "SOLUTION" not in text or rel.startswith(VERBATIM):
            shutil.copy2(src, dest)
            if text is not None:
                written[rel] = text
        else:
            stripped, found = strip(text, rel)
            dest.write_text(stripped)
            shutil.copymode(src, dest)
            written[rel] = stripped
            regions += found
        files += 1
    allow = tuple(a.rstrip("/") + "/" for lab in labs.values() for a in lab.release_allow)
    leaks = survivors(regions, {rel: text for rel, text in written.items() if not rel.startswith(allow)})
    if leaks:
        shown = "; ".join(f"{r.path}:{r.start} line {line!r} found in {where}" for r, line, where in leaks[:5])
        raise ReleaseError(f"solution text survives in the student edition ({len(leaks)} line(s)): {shown}")
    return Release(files, regions, removed)


def survivors(regions: list[Region], written: dict[str, str]) -> list[tuple[Region, str, str]]:
    """Solution text still in the output: WINDOW consecutive lines of a region (all of a shorter region) found
    consecutive in an output file, at least one of them significant. Single generic lines (`securityContext:`)
    recur in unrelated manifests; a run of them is the solution itself."""
    files = {rel: [ln.strip() for ln in text.splitlines() if ln.strip()] for rel, text in written.items()}
    where: dict[str, list[tuple[str, int]]] = {}
    for rel, lines in files.items():
        for n, line in enumerate(lines):
            where.setdefault(line, []).append((rel, n))
    leaks = []
    for r in regions:
        body = [ln.strip() for ln in r.lines if ln.strip()]
        k = min(WINDOW, len(body))
        for i in range(len(body) - k + 1):
            window = body[i : i + k]
            if not any(_significant(ln) for ln in window):
                continue
            hit = next(
                (rel for rel, n in where.get(window[0], []) if files[rel][n : n + k] == window),
                None,
            )
            if hit:
                leaks.append((r, window[0], hit))
                break
    return leaks


def hidden_checks(labs: dict[str, LabSpec]) -> str:
    lines = ["# Hidden checks (instructors only; not in the student edition)", ""]
    for lab in labs.values():
        hidden = [c for c in lab.checks if c.visibility != "visible"]
        lines.append(f"## {lab.folder}: {lab.title}")
        lines += [f"- `{c.id}` ({c.visibility}, {c.points:g} pt): {c.title}" for c in hidden] or ["- none"]
        lines.append("")
    return "\n".join(lines)
