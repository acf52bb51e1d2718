"""python -m grader: lab checks for learners, batch grading and the student edition for instructors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grader.spec import REPO_ROOT, SpecError
from loadtest.options import typer_app

app = typer_app(
    "Grade the labs: self-checks for learners, batch grading and student-edition release for instructors.",
    no_args_is_help=True,
)
EXIT_NOT_PASSED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # nothing failed, but required checks could not run here (e.g. no kind cluster)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _lab(lab: str):
    from grader import spec

    try:
        return spec.resolve(lab)
    except SpecError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


@app.command("list")
def list_labs() -> None:
    """List the labs and their checks (kind, points, requirements)."""
    from rich.console import Console
    from rich.table import Table

    from grader import spec

    try:
        labs = spec.all_labs()
    except SpecError as exc:
        _fail(str(exc))
    table = Table(title="Labs and checks")
    for col in ("Lab", "Check", "Kind", "Points", "Visibility", "Requires"):
        table.add_column(col)
    for lab in labs.values():
        for n, c in enumerate(lab.checks):
            table.add_row(
                lab.folder if n == 0 else "",
                f"{c.id}\n{c.title}",
                c.kind,
                f"{c.points:g}",
                c.visibility,
                ", ".join(c.requires) or "-",
            )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@app.command(
    help="Grade one working tree. Exit codes: 0 PASSED, every required check passed; 1 NOT PASSED, a check "
    "failed, timed out or crashed; 2 usage error; 3 PARTIAL, nothing failed but required checks could not run "
    "here (skipped: no Docker engine, no kind cluster), and the report says which and why. A skip is never a pass."
)
def check(
    lab: Annotated[str, typer.Argument(help="Lab number (02) or folder name (02-containerize)")],
    path: Annotated[Path, typer.Option(help="Working tree to grade (default: this repository)")] = REPO_ROOT,
    static_only: Annotated[
        bool, typer.Option("--static-only", help="Only checks that read files; live ones are not run")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="text, json, gradescope, junit or markdown")] = "text",
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of standard output")] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated check ids to run")] = None,
) -> None:
    """Grade one working tree."""
    from grader import formats, runner

    if fmt not in formats.FORMATS:
        _fail(f"--format {fmt!r}: use one of {', '.join(formats.FORMATS)}")
    if not path.is_dir():
        _fail(f"--path {path}: not a folder")
    spec = _lab(lab)
    ids = only.split(",") if only else None
    unknown = [i for i in ids or [] if i not in {c.id for c in spec.checks}]
    if unknown:
        _fail(f"--only: {', '.join(unknown)} not in {spec.folder}")
    if fmt == "text" and out is None:
        typer.echo(f"grading {spec.folder} in {path} ...", err=True)
    own_tree = path.resolve() == REPO_ROOT.resolve()  # a learner's own `make check`, not someone else's folder
    result = runner.run_lab(spec, path.resolve(), static_only=static_only, only=ids, own_tree=own_tree)
    report = formats.RENDER[fmt](result)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        typer.echo(f"{result.lab}: {result.score:g}/{result.max_score:g} points, report written to {out}", err=True)
    else:
        sys.stdout.write(report)
    raise typer.Exit(0 if result.passed else EXIT_PARTIAL if result.partial else EXIT_NOT_PASSED)


@app.command()
def grade(
    submissions: Annotated[
        Path, typer.Argument(help="Folder of submissions: folders, git repositories, .zip or .tar.gz")
    ],
    lab: Annotated[str, typer.Option(help="Lab number or folder name")],
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Submissions graded at once")] = 2,
    out: Annotated[Path, typer.Option(help="Output folder: gradebook.csv, students/, summary")] = Path(
        "results/grades"
    ),
    static_only: Annotated[bool, typer.Option("--static-only", help="Only checks that read files")] = False,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Seconds per submission (default: the sum of its check timeouts + 30)")
    ] = None,
) -> None:
    """Batch-grade a folder of submissions; one broken, hanging or hostile submission never stops the batch."""
    from grader import batch

    spec = _lab(lab)
    if not submissions.is_dir():
        _fail(f"{submissions}: not a folder")

    def progress(g: batch.Graded, n: int, total: int) -> None:
        typer.echo(
            f"[{n}/{total}] {g.student}: {g.status}, {g.result.score:g}/{g.result.max_score:g} ({g.seconds:.1f} s)",
            err=True,
        )

    try:
        _, summary = batch.grade_all(
            submissions, spec, out, jobs=jobs, static_only=static_only, timeout=timeout, progress=progress
        )
    except ValueError as exc:
        _fail(str(exc))
    for note in summary["names"]:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"{summary['submissions']} graded in {summary['time_s']:.1f} s: {summary['grading_status']}; "
        f"mean {summary['mean_score']:g}/{summary['max_score']:g}; "
        f"gradebook {out / 'gradebook.csv'}, summary {out / 'summary.md'}"
    )


@app.command()
def release(
    out: Annotated[Path, typer.Option(help="New folder for the student edition")],
    gradescope: Annotated[
        bool, typer.Option("--gradescope", help="Also write a Gradescope autograder zip per lab")
    ] = False,
    instructor_out: Annotated[
        Path | None, typer.Option(help="Instructor files (hidden checks, bundles); default OUT-instructor")
    ] = None,
) -> None:
    """Write the student edition: solution regions become TODO lines; fails if any solution line survives."""
    from grader import gradescope_bundle, spec
    from grader import release as release_mod

    try:
        labs = spec.all_labs()
        result = release_mod.release(out, labs)
    except (SpecError, release_mod.ReleaseError) as exc:
        _fail(str(exc))
    instructor = instructor_out or out.with_name(out.name + "-instructor")
    instructor.mkdir(parents=True, exist_ok=True)
    (instructor / "hidden-checks.md").write_text(release_mod.hidden_checks(labs))
    left_out = f"{len(result.removed)} files left out (reference tests, generated results)"
    stripped = f"{len(result.regions)} solution regions stripped, {left_out}"
    typer.echo(f"student edition: {out} ({result.files} files, {stripped})")
    typer.echo(f"instructor files: {instructor / 'hidden-checks.md'}")
    if gradescope:
        for lab in labs.values():
            typer.echo(f"gradescope bundle: {gradescope_bundle.write(out, instructor, lab)}")


if __name__ == "__main__":
    app()
