"""`python -m model_server.builders --out models`: build the model repository offline and deterministically."""

import logging
import shutil
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from model_server.builders import digits, minilm

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


class Model(StrEnum):
    digits = "digits"
    digits_large = "digits-large"
    minilm = "minilm"


@app.command()
def main(
    out: Annotated[Path, typer.Option(help="Model repository folder")] = Path("models"),
    only: Annotated[list[Model] | None, typer.Option(help="Build only this model (repeatable); default: all")] = None,
) -> None:
    """Build the model repository (digits, digits-large, minilm) offline and deterministically."""
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing advice is noise here
    wanted = {m.value for m in only} if only else {m.value for m in Model}
    for name in digits.VARIANTS:
        if name in wanted:
            _build(out, name, partial(digits.build, out, name))
    if Model.minilm.value in wanted:
        _build(out, Model.minilm.value, partial(minilm.build, out))


def _build(out: Path, name: str, build: Callable[[], list[dict]]) -> None:
    print(f"==> building {name}", flush=True)
    started = time.perf_counter()
    shutil.rmtree(out / name, ignore_errors=True)  # no stale versions left behind
    for card in build():
        print(f"    {name}/{card['version']}: {card['size_bytes'] / 1e6:.1f} MB, {card['metrics']}", flush=True)
    print(f"    done in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(app())
