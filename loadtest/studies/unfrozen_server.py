"""`python -m loadtest.studies.unfrozen_server [model server flags]`: the model server with `gc.freeze()` a no-op.

The "before" variant of `python -m loadtest cpu-breakdown`: the server as it was before it froze its startup
objects out of the garbage collector (model_server/state.py). A benchmark launcher, not a product setting: it
patches `gc` in this process, then runs `python -m model_server` with the same flags.
"""

import gc
import runpy
import sys


def _skip_freeze() -> None:
    # In the server's log: shows the variant ran as intended (the server calls gc.freeze() once, when ready).
    print("unfrozen_server: gc.freeze() skipped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    gc.freeze = _skip_freeze
    runpy.run_module("model_server", run_name="__main__", alter_sys=True)
