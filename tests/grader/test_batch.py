"""Batch grading of ~20 generated submissions (correct, partly correct, malformed, hanging, hostile):
every gradebook row is asserted, the batch never stops, and a regrade gives the same verdicts."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from grader import intake
from tests.grader.conftest import ROOT, copy_lab

LAB = "03"
CHECKS = [
    "compose.schema",
    "compose.lb",
    "compose.replicas",
    "compose.loopback_ports",
    "compose.healthchecks",
    "compose.nginx_upstream",
]
FULL = 9.0  # static points of lab 03
COMPOSE, NGINX = "docker-compose.yml", "docker/lb/nginx.conf"


def _correct(path: Path) -> Path:
    return copy_lab(LAB, path)


def _with(path: Path, rel: str, data: bytes | str) -> Path:
    root = _correct(path)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def _compose(change) -> str:
    doc = yaml.safe_load((ROOT / COMPOSE).read_text())
    change(doc)
    return yaml.safe_dump(doc)


def _archive(folder: Path, dest: Path) -> Path:
    if dest.name.endswith(".zip"):
        with zipfile.ZipFile(dest, "w") as zf:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    zf.write(f, f"{folder.name}/{f.relative_to(folder)}")
    else:
        with tarfile.open(dest, "w:gz") as tf:
            tf.add(folder, arcname=folder.name)
    shutil.rmtree(folder)
    return dest


BILLION_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + "services: {model-server: {image: x, healthcheck: {test: [CMD, '*i']}}, lb: *i}\n"
)

# student -> (grading_status, score, failed checks)
EXPECTED: dict[str, tuple[str, float, set[str]]] = {
    "correct-folder": ("ok", FULL, set()),
    "correct-zip": ("ok", FULL, set()),
    "correct-targz": ("ok", FULL, set()),
    "correct-git": ("ok", FULL, set()),
    "no-lb": ("ok", 5.0, {"compose.lb", "compose.healthchecks"}),
    "open-port": ("ok", 8.0, {"compose.loopback_ports"}),
    "wrong-upstream": ("ok", 7.0, {"compose.nginx_upstream"}),
    "malformed-yaml": ("ok", 2.0, set(CHECKS) - {"compose.nginx_upstream"}),
    "binary-junk": ("ok", 2.0, set(CHECKS) - {"compose.nginx_upstream"}),
    "huge-file": ("ok", 2.0, set(CHECKS) - {"compose.nginx_upstream"}),
    "latin1-nginx": ("ok", 7.0, {"compose.nginx_upstream"}),
    "empty": ("ok", 0.0, set(CHECKS)),
    "infinite-loop-python": ("ok", FULL, set()),
    "fork-bomb-dockerfile": ("ok", FULL, set()),
    "output-flood": ("ok", 3.0, {"compose.schema", "compose.lb", "compose.loopback_ports", "compose.healthchecks"}),
    "yaml-bomb": ("ok", 2.0, set(CHECKS) - {"compose.nginx_upstream"}),  # refused while parsing (safeyaml)
    "zip-slip": ("error", 0.0, set(CHECKS)),
    "symlink-escape": ("error", 0.0, set(CHECKS)),
    "tar-absolute": ("error", 0.0, set(CHECKS)),
    "zip-bomb": ("error", 0.0, set(CHECKS)),
}


def make_submissions(folder: Path) -> None:
    _correct(folder / "correct-folder")
    _archive(_correct(folder / "correct-zip"), folder / "correct-zip.zip")
    _archive(_correct(folder / "correct-targz"), folder / "correct-targz.tar.gz")
    git = _correct(folder / "correct-git")
    subprocess.run(["git", "-C", str(git), "init", "-q"], check=True)
    _with(folder / "no-lb", COMPOSE, _compose(lambda d: d["services"].pop("lb")))
    _with(
        folder / "open-port",
        COMPOSE,
        (ROOT / COMPOSE).read_text().replace('"127.0.0.1:${LB_PORT:-8080}:8080"', '"8080:8080"'),
    )
    _with(
        folder / "wrong-upstream",
        NGINX,
        (ROOT / NGINX).read_text().replace("server model-server:8000", "server web:8000"),
    )
    _with(folder / "malformed-yaml", COMPOSE, "services:\n  model-server: [\n    image: x\n")
    _with(folder / "binary-junk", COMPOSE, os.urandom(4096))
    _with(folder / "huge-file", COMPOSE, "# padding\n" * 400_000)
    _with(
        folder / "latin1-nginx",
        NGINX,
        (ROOT / NGINX).read_text().replace("# Load", "# Lo\xe4d").encode("latin-1", "replace"),
    )
    (folder / "empty").mkdir()
    loop = _correct(folder / "infinite-loop-python")
    for name in ("sitecustomize.py", "conftest.py", "setup.py", "grader/__init__.py"):
        (loop / name).parent.mkdir(parents=True, exist_ok=True)
        (loop / name).write_text("while True:\n    pass\n")
    _with(
        folder / "fork-bomb-dockerfile", "docker/lb/Dockerfile", "FROM debian:12\nRUN bomb() { bomb | bomb & }; bomb\n"
    )
    flood = {f"svc{i}": {"image": "x", "ports": [f"{10000 + i}:80"], "bogus": i} for i in range(300)}
    _with(folder / "output-flood", COMPOSE, yaml.safe_dump({"services": {"model-server": {"image": "x"}, **flood}}))
    _with(folder / "yaml-bomb", COMPOSE, BILLION_LAUGHS)
    with zipfile.ZipFile(folder / "zip-slip.zip", "w") as zf:
        zf.writestr("../../escaped.txt", "pwned")
    esc = _correct(folder / "symlink-escape")
    (esc / "docker/lb/nginx.conf").unlink()
    (esc / "docker/lb/nginx.conf").symlink_to("/etc/passwd")
    with tarfile.open(folder / "tar-absolute.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("/tmp/ahl-grader-evil")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    with zipfile.ZipFile(folder / "zip-bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.bin", b"\0" * 30_000_000)
    (folder / ".DS_Store").write_bytes(b"ignored")


GRADE = [sys.executable, "-m", "grader", "grade"]


def grade_batch(subs: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GRADE, str(subs), "--lab", LAB, "--jobs", "2", "--out", str(out), "--static-only", "--timeout", "12"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GRADER_MAX_BYTES": "20000000"},
    )  # fmt: skip


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open() as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("batch")
    subs = base / "submissions"
    subs.mkdir()
    make_submissions(subs)
    proc = grade_batch(subs, base / "grades")
    return subs, base / "grades", proc


def test_every_gradebook_row(batch) -> None:
    _, out, proc = batch
    assert proc.returncode == 0, proc.stderr[-3000:]
    book = rows(out)
    possible = book.pop("POINTS POSSIBLE")
    assert possible["score"] == "9" and possible["compose.lb"] == "2"
    assert set(book) == set(EXPECTED)
    for student, (status, score, failed) in EXPECTED.items():
        row = book[student]
        assert row["grading_status"] == status, (student, row)
        assert float(row["score"]) == score, (student, row)
        got_failed = {c for c in CHECKS if float(row[c]) < float(possible[c])}
        assert got_failed == failed, (student, row)
    assert not (out.parent / "escaped.txt").exists() and not Path("/tmp/ahl-grader-evil").exists()


def test_feedback_names_the_problem_and_floods_are_capped(batch) -> None:
    _, out, _ = batch
    feedback = {s: json.loads((out / "students" / s / "result.json").read_text()) for s in EXPECTED}
    by_check = {s: {c["id"]: c["feedback"] for c in r["checks"]} for s, r in feedback.items()}
    assert "no `lb` service" in by_check["no-lb"]["compose.lb"]
    assert "not valid YAML at line" in by_check["malformed-yaml"]["compose.schema"]
    assert "binary" in by_check["binary-junk"]["compose.schema"] or "UTF-8" in by_check["binary-junk"]["compose.schema"]
    assert "over the 2 MB" in by_check["huge-file"]["compose.lb"]
    assert "points outside the submission" in by_check["symlink-escape"]["compose.lb"]
    assert "absolute path or `..`" in by_check["zip-slip"]["compose.lb"]
    assert "aliases expand to more than" in by_check["yaml-bomb"]["compose.schema"]
    assert all(len(f) <= 4200 for f in by_check["output-flood"].values())
    assert "more" in by_check["output-flood"]["compose.loopback_ports"]
    for student in EXPECTED:
        folder = out / "students" / student
        assert (folder / "feedback.md").read_text().startswith("### ")
        assert json.loads((folder / "results.json").read_text())["tests"]


def test_summary_histogram_and_time(batch) -> None:
    _, out, proc = batch
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == len(EXPECTED)
    assert summary["grading_status"] == {"ok": 16, "error": 4}
    assert summary["most_failed"][0]["check"] in CHECKS and summary["time_s"] > 0
    assert (out / "histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert "20 graded" in proc.stdout


def test_grading_twice_gives_the_same_verdicts(batch, tmp_path: Path) -> None:
    subs, out, _ = batch
    again = tmp_path / "subs"
    again.mkdir()
    for name in ("correct-folder", "no-lb", "malformed-yaml", "zip-slip.zip", "output-flood"):
        src = subs / name
        if src.is_dir():
            shutil.copytree(src, again / name, symlinks=True)
        else:
            shutil.copy2(src, again / name)
    proc = grade_batch(again, tmp_path / "grades")
    assert proc.returncode == 0, proc.stderr
    first, second = rows(out), rows(tmp_path / "grades")
    for student in second:
        if student != "POINTS POSSIBLE":
            assert second[student] == first[student]
    assert intake.student_name(again / "zip-slip.zip") == "zip-slip"


def test_a_lab_02_batch_of_dockerfile_only_submissions(tmp_path: Path) -> None:
    """A submission holding only model_server/Dockerfile is graded as it is (not stepped into)."""
    subs = tmp_path / "subs"
    copy_lab("02", subs / "good")
    root_user = copy_lab("02", subs / "root-user")
    dockerfile = root_user / "model_server/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER 10001:10001", "USER root"))
    _archive(copy_lab("02", subs / "zipped"), subs / "zipped.zip")
    proc = subprocess.run(
        [*GRADE, str(subs), "--lab", "02", "--static-only", "--out", str(tmp_path / "grades")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    book = rows(tmp_path / "grades")
    assert (book["good"]["score"], book["zipped"]["score"]) == ("8", "8")
    assert book["root-user"]["score"] == "5" and book["root-user"]["dockerfile.non_root"] == "0"
