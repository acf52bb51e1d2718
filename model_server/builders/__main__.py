"""`python -m model_server.builders --out models`: build the model repository offline and deterministically."""

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

from model_server.builders import digits, minilm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_server.builders", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("models"), help="model repository folder (default: models)")
    parser.add_argument(
        "--only",
        choices=["digits", "digits-large", "minilm"],
        action="append",
        help="build only this model (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing advice is noise here
    wanted = set(args.only or ["digits", "digits-large", "minilm"])
    for name in digits.VARIANTS:
        if name in wanted:
            _build(args.out, name, lambda: digits.build(args.out, name))
    if "minilm" in wanted:
        _build(args.out, "minilm", lambda: minilm.build(args.out))
    return 0


def _build(out: Path, name: str, build) -> None:
    print(f"==> building {name}", flush=True)
    started = time.perf_counter()
    shutil.rmtree(out / name, ignore_errors=True)  # no stale versions left behind
    for card in build():
        print(f"    {name}/{card['version']}: {card['size_bytes'] / 1e6:.1f} MB, {card['metrics']}", flush=True)
    print(f"    done in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
