"""`python -m loadtest.studies.fastapi_routes_server [model server flags]`: the inference routes on FastAPI's own
route handler.

A "before" variant of `python -m loadtest cpu-breakdown`: the server as it was before its inference routes
skipped FastAPI's per-request dependency solving (model_server.lean_route). A benchmark launcher, not a product
setting: it gives LeanRoute APIRoute's own handler in this process, then runs `python -m model_server` with the
same flags. The endpoints' signatures are FastAPI's, so FastAPI serves them as it serves any route.
"""

import runpy
import sys

from fastapi.routing import APIRoute

from model_server.lean_route import LeanRoute

if __name__ == "__main__":
    LeanRoute.get_route_handler = APIRoute.get_route_handler  # type: ignore[method-assign]
    # In the server's log: shows the variant ran as intended.
    print("fastapi_routes_server: inference routes on FastAPI's own handler", file=sys.stderr, flush=True)
    runpy.run_module("model_server", run_name="__main__", alter_sys=True)
