"""Benchmark (not a test): static batch grading of N generated submissions, time per submission, JSON out.

    python -m grader.bench --count 100 --jobs 2 --out results/bench/grader.json

The submissions are copies of the reference files of a lab with one of a few defects each (or none),
so the grader does the same work it does on a class.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from grader import batch, spec
from grader.version import GRADER_VERSION
from model_server import cpus

LAB_FILES = {"02": ["model_server/Dockerfile"], "03": ["docker-compose.yml", "docker/lb/nginx.conf"]}
DEFECTS = {
    "02": [
        None,
        ("model_server/Dockerfile", "USER 10001:10001", "USER root"),
        ("model_server/Dockerfile", "HEALTHCHECK", "# HEALTHCHECK"),
    ],
    "03": [
        None,
        ("docker-compose.yml", '"127.0.0.1:${LB_PORT:-8080}:8080"', '"8080:8080"'),
        ("docker/lb/nginx.conf", "server model-server:8000", "server web:8000"),
    ],
}


def generate(folder: Path, lab: str, count: int) -> None:
    for n in range(count):
        root = folder / f"student-{n:03d}"
        for rel in LAB_FILES[lab]:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(spec.REPO_ROOT / rel, root / rel)
        defect = DEFECTS[lab][n % len(DEFECTS[lab])]
        if defect:
            rel, old, new = defect
            (root / rel).write_text((root / rel).read_text().replace(old, new))


def main(
    count: Annotated[int, typer.Option(min=1, max=1000, help="Submissions to generate")] = 100,
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Submissions graded at once")] = 2,
    lab: Annotated[str, typer.Option(help="02 (Dockerfile, hadolint) or 03 (Compose schema)")] = "03",
    out: Annotated[Path, typer.Option(help="JSON result file")] = Path("results/bench/grader.json"),
) -> None:
    """Static grading of COUNT generated submissions; prints and writes the time per submission."""
    if lab not in LAB_FILES:
        typer.echo(f"error: --lab {lab}: use one of {', '.join(LAB_FILES)}", err=True)
        raise typer.Exit(2)
    spec_ = spec.resolve(lab)
    with tempfile.TemporaryDirectory(prefix="ahl-bench-") as tmp:
        subs = Path(tmp) / "submissions"
        generate(subs, lab, count)
        typer.echo(f"grading {count} submissions of {spec_.folder} with {jobs} job(s) ...", err=True)
        start = time.monotonic()
        graded, _ = batch.grade_all(subs, spec_, Path(tmp) / "grades", jobs=jobs, static_only=True)
        wall = time.monotonic() - start
    per = [g.seconds for g in graded]
    result = {
        "benchmark": "grader static batch",
        "grader_version": GRADER_VERSION,
        "lab": spec_.folder,
        "submissions": count,
        "jobs": jobs,
        "cpus": len(cpus.usable_cores()),
        "python": platform.python_version(),
        "wall_s": round(wall, 2),
        "wall_per_submission_s": round(wall / count, 3),
        "submission_s": {
            "median": round(statistics.median(per), 3),
            "max": round(max(per), 3),
            "min": round(min(per), 3),
        },
        "statuses": {s: sum(1 for g in graded if g.status == s) for s in ("ok", "timeout", "error")},
        # One third of the submissions are correct, the others carry one defect each: a sanity check of the verdicts.
        "scores": {f"{k:g}": v for k, v in sorted(Counter(g.result.score for g in graded).items())},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    typer.echo(json.dumps(result, indent=2))


if __name__ == "__main__":
    typer.run(main)
