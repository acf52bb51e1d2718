"""`python -m loadtest.studies.variant_server --undo CHANGE [model server flags]`: the model server with one of its
optimisations undone.

The "before" variants of `python -m loadtest cpu-breakdown`, each measured side by side with the server as it is.
A benchmark launcher, not a product setting: it patches this process, says so in the server's log, then runs
`python -m model_server` with the other flags.
"""

import argparse
import gc
import runpy
import sys

from fastapi.routing import APIRoute

from model_server.batcher import Batcher
from model_server.lean_route import LeanRoute


def _unfrozen() -> None:
    gc.freeze = lambda: None  # the server calls it once, when its models are ready


def _fastapi_routes() -> None:
    LeanRoute.get_route_handler = APIRoute.get_route_handler  # type: ignore[method-assign]


def _threaded_batches() -> None:
    Batcher.calibrate = lambda self: None  # type: ignore[method-assign]  # inline stays False


# Change: what the server does without it, and the patch that undoes it.
UNDO = {
    "unfrozen": ("gc.freeze() a no-op (model_server/state.py)", _unfrozen),
    "fastapi-routes": (
        "the inference routes on FastAPI's own handler and its dependency solving (model_server/lean_route.py)",
        _fastapi_routes,
    ),
    "threaded-batches": (
        "every batch on the model's thread, however fast (model_server/batcher.py)",
        _threaded_batches,
    ),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.studies.variant_server",
        description="The model server with one change undone (a cpu-breakdown variant); other flags go to the server.",
    )
    parser.add_argument("--undo", required=True, choices=UNDO, help="; ".join(f"{k}: {v[0]}" for k, v in UNDO.items()))
    args, server_flags = parser.parse_known_args()
    what, undo = UNDO[args.undo]
    undo()
    print(f"variant_server: {args.undo}: {what}", file=sys.stderr, flush=True)
    sys.argv[1:] = server_flags
    runpy.run_module("model_server", run_name="__main__", alter_sys=True)
