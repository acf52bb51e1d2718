"""The command-line flags of `python -m loadtest`, by kind: each kind's bounds and checks live here, once.

Every number has a lower and an upper bound (a flag that reaches a loop, an allocation or a sleep must not be
able to ask for 1e20 of it), and floats refuse NaN and infinity (click's FloatRange lets NaN through: every
comparison with NaN is false). Paths are checked when the command line is read, before any load starts:
an input file must be a readable file, a results folder must be one the command can create.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup


class OneLineErrors(TyperGroup):
    """A bad flag is reported as every other error of these commands is: one line, `error: ...`, exit code 2
    (click would print the usage and a hint around it)."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False  # errors come back here; typer.Exit comes back as its exit code
        try:
            code = super().main(*args, **kwargs)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # click's errors: a usage error, a bad file...
            message = exc.format_message()  # (no command at all: the help is the message)
            typer.echo(message if message.startswith("Usage:") else f"error: {message}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def typer_app(help: str | None = None, **options: Any) -> typer.Typer:
    """The one style of the project's Python command lines (loadtest, the grader and its tools): plain click help
    (typer's rich help prints every flag, --help included, as "<bool>", as if it took a value), no shell-completion
    options, plain tracebacks."""
    return typer.Typer(
        help=help,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"max_content_width": 120},
        **options,
    )


def number(help: str, low: float, high: float, **kwargs: Any) -> Any:
    """A float in [low, high]: finite (typer's own range check lets NaN through with a misleading message)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{text} is not a finite number")
        if not low <= value <= high:
            raise typer.BadParameter(f"{value:g} is not between {low:g} and {high:g}")
        return value

    return typer.Option(help=f"{help}  [{low:g} to {high:g}]", parser=parse, **kwargs)


def count(help: str, low: int, high: int, **kwargs: Any) -> Any:
    """An integer in [low, high]."""
    return typer.Option(help=help, min=low, max=high, **kwargs)


def input_file(help: str, *names: str) -> Any:
    """A file that exists and can be read (not a folder)."""
    return typer.Option(*names, help=help, exists=True, file_okay=True, dir_okay=False, readable=True)


def _text_length(spec: str) -> str:
    from loadtest.payloads import TextLength

    try:
        TextLength.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return spec


def text_length(help: str) -> Any:
    """`short`, `medium`, `long`, N or MIN-MAX words, bounded (see loadtest.payloads.TextLength)."""
    return typer.Option(help=help, callback=_text_length)


def _replica_series(path: Path | None) -> Path | None:
    from loadtest import plots

    if path is not None:
        try:
            plots.read_series(path, 0.0)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from None
    return path


def replica_series(help: str) -> Any:
    """A `time,replicas` CSV, read once when the command line is, so a bad one stops the run before its load."""
    return typer.Option(help=help, exists=True, file_okay=True, dir_okay=False, readable=True, callback=_replica_series)


def _results_folder(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)  # made now, so a run never ends on a folder it cannot write
    except OSError as exc:
        raise typer.BadParameter(f"cannot create the folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise typer.BadParameter(f"the folder {path} is not writable")
    return path


def results_folder(help: str) -> Any:
    """A folder the command writes into: created if missing; an existing file or an unwritable place is refused."""
    return typer.Option(help=help, file_okay=False, callback=_results_folder)


def _results_file(path: Path) -> Path:
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder, not a file")
    _results_folder(path.parent)
    return path


def results_file(help: str) -> Any:
    """A file the command writes: its folder is created; a folder in its place is refused."""
    return typer.Option(help=help, dir_okay=False, callback=_results_file)


# The flags the server benchmarks share (bench-server and bench-peers run the same load on different servers).
ModelRepository = Annotated[Path, typer.Option(help="Model repository built by `make models`")]
BenchModels = Annotated[str, typer.Option(help="Comma-separated model names")]
BenchUsers = Annotated[int, typer.Option(min=1, max=256, help="Concurrent closed-loop clients")]
BenchDuration = Annotated[float, number("Seconds of measured load per server run", 1, 300)]
BenchWarmup = Annotated[float, number("Seconds of load before measuring", 0, 60)]
BenchBatch = Annotated[int, typer.Option(min=1, max=4096, help="Max batch size, and the raw loop's batch")]
BenchRepeats = Annotated[int, typer.Option(min=1, max=9, help="Interleaved repeats; the table shows medians")]
