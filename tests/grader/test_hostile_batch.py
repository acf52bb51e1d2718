"""One bad submission is that submission's row, never the end of the batch; names never harm the
gradebook, the feedback folders or the instructor's terminal."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.grader.conftest import ROOT, copy_lab

ANSWERS = "labs/00-concepts/answers.yaml"
GRADE = [sys.executable, "-m", "grader", "grade"]


def _answers() -> bytes:
    return (ROOT / ANSWERS).read_bytes()


def _zip(dest: Path, patch: Callable[[bytearray, zipfile.ZipInfo], None], **info: int) -> None:
    """A zip of the good answers whose bytes `patch` then breaks (headers offsets come from zipfile)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zi = zipfile.ZipInfo(ANSWERS)
        zi.compress_type = info.get("compress_type", zipfile.ZIP_STORED)
        zf.writestr(zi, _answers())
        zi = zf.getinfo(ANSWERS)
    data = bytearray(buf.getvalue())
    patch(data, zi)
    dest.write_bytes(bytes(data))


def _central(data: bytearray) -> int:
    return data.rindex(b"PK\x01\x02")


def _method_99(data: bytearray, zi: zipfile.ZipInfo) -> None:
    data[zi.header_offset + 8 : zi.header_offset + 10] = (99).to_bytes(2, "little")
    data[_central(data) + 10 : _central(data) + 12] = (99).to_bytes(2, "little")


def _corrupt_deflate(data: bytearray, zi: zipfile.ZipInfo) -> None:
    start = zi.header_offset + 30 + len(ANSWERS)
    data[start : start + 40] = b"\xff" * 40


def _flag(data: bytearray, zi: zipfile.ZipInfo, bit: int) -> None:
    for at in (zi.header_offset + 6, _central(data) + 8):  # the general purpose flags of both headers
        flags = int.from_bytes(data[at : at + 2], "little") | bit
        data[at : at + 2] = flags.to_bytes(2, "little")


def _bad_utf8_name(data: bytearray, zi: zipfile.ZipInfo) -> None:
    _flag(data, zi, 0x800)  # "the name is UTF-8"
    data[:] = data.replace(b"answers.yaml", b"answ\xff\xfes.yaml")


def _tar_nul(dest: Path) -> None:
    with tarfile.open(dest, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("labs/x.txt")
        info.pax_headers = {"path": "labs/a\0b.txt"}
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))


def _pax_bomb(dest: Path) -> None:
    """A few hundred kB of gzip whose PAX header is 200 MB: tarfile reads a header whole, into memory."""
    with tarfile.open(dest, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tf:
        info = tarfile.TarInfo("labs/x.txt")
        info.pax_headers = {"comment": "x" * 200_000_000}
        tf.addfile(info)


def _symlink_loop(dest: Path) -> None:
    copy_lab("03", dest)
    (dest / "docker/loop-a").symlink_to("loop-b")
    (dest / "docker/loop-b").symlink_to("loop-a")


BAD: dict[str, Callable[[Path], None]] = {
    "password.zip": lambda d: _zip(d, lambda data, zi: _flag(data, zi, 0x1)),  # "encrypted"
    "deflate.zip": lambda d: _zip(d, _corrupt_deflate, compress_type=zipfile.ZIP_DEFLATED),
    "method99.zip": lambda d: _zip(d, _method_99),
    "utf8name.zip": lambda d: _zip(d, _bad_utf8_name),
    "nul.tar.gz": _tar_nul,
    "pax-bomb.tar.gz": _pax_bomb,
    "loop": _symlink_loop,
}


def grade(subs: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GRADE, os.fsencode(subs), "--lab", "03", "--static-only", "--out", str(out), "--timeout", "30"],
        cwd=ROOT, capture_output=True, timeout=180, env={**os.environ, "GRADER_INTAKE_MEMORY": str(256 * 2**20)},
    )  # fmt: skip


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as fh:
        return {r["student"]: r for r in csv.DictReader(fh) if r["student"] != "POINTS POSSIBLE"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_submission_between_good_ones_is_its_own_error_row(tmp_path: Path, kind: str) -> None:
    subs = tmp_path / "subs"
    copy_lab("03", subs / "a-good")
    BAD[kind](subs / f"b-{kind}")
    copy_lab("03", subs / "c-good")
    proc = grade(subs, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    book = gradebook(tmp_path / "out")
    assert len(book) == 3 and (tmp_path / "out/summary.md").exists()
    assert book["a-good"]["score"] == book["c-good"]["score"] == book["a-good"]["max_score"]
    (bad,) = (row for name, row in book.items() if name.startswith("b-"))
    assert bad["grading_status"] == "error" and bad["score"] == "0"
    feedback = next((tmp_path / "out/students").glob("b-*/feedback.md")).read_text()
    assert "Traceback" not in feedback and "submission refused" in feedback


def test_a_folder_name_that_is_not_utf8_still_gets_its_row(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    copy_lab("03", subs / "a-good")
    copy_lab("03", Path(os.fsdecode(os.fsencode(subs) + b"/b-\xff\xfename")))
    proc = grade(subs, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    book = gradebook(tmp_path / "out")
    assert sorted(book) == ["a-good", "b-\\xff\\xfename"]
    assert book["b-\\xff\\xfename"]["score"] == book["a-good"]["score"]


def test_names_are_escaped_formulas_neutralised_and_identities_unique(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    for name in ("=2+5", "\x1b]0;pwned\x07\x1b[31mred", "alice", "@sum", "-1", "+x", "\tx"):
        copy_lab("03", subs / name)
    (subs / "alice.zip").write_bytes(b"not a zip")
    proc = grade(subs, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    output = proc.stdout + proc.stderr
    assert b"\x1b" not in output and b"\x07" not in output
    assert b"alice" in output and b"alice.zip" in output and b"unique" in output
    raw = (tmp_path / "out/gradebook.csv").read_text(encoding="utf-8")
    names = [r[0] for r in csv.reader(io.StringIO(raw))][2:]
    assert all(not n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names), names
    assert "'=2+5" in names and "\\x1b]0;pwned\\x07\\x1b[31mred" in names
    assert {"alice", "alice.zip"} <= set(names)
    students = sorted(p.name for p in (tmp_path / "out/students").iterdir())
    assert "alice" in students and "alice.zip" in students and all("\x1b" not in s for s in students)
