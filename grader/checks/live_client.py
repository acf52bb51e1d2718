"""Lab 01 live: the learner's client.py runs in a container (read-only mount, non-root, limits) against
a real model-server container on a private internal network; it must print the right labels and exit 0."""

from __future__ import annotations

from grader import sandbox
from grader.catalog import register
from grader.context import Context, Verdict
from grader.requirements import SERVER_IMAGE

CLIENT = "labs/01-serve/client.py"


@register("client.live")
def client_live(ctx: Context, path: str = CLIENT, ready_s: float = 60, run_s: float = 30) -> Verdict:
    script = ctx.file(path)
    net = sandbox.network(ctx, "net")
    server = sandbox.run_detached(
        ctx, "server", SERVER_IMAGE, "--read-only", "--tmpfs", "/tmp", "--network-alias", "server",
        "--health-interval", "1s", net=net,
    )  # fmt: skip
    sandbox.wait_healthy(server, ready_s)
    client = sandbox.run_detached(
        ctx, "client", SERVER_IMAGE, "--read-only", "--user", "65534:65534", "--pids-limit", "64",
        "--volume", f"{script}:/submission/client.py:ro", net=net,
        command=("python", "/submission/client.py", "--url", "http://server:8000", "--requests", "5"),
    )  # fmt: skip
    code, output = sandbox.wait_exit(client, run_s)
    problems = []
    if code != 0:
        problems.append(f"`python {path} --url ...` exited {code} against a real server; its output:\n{output}")
    elif "labels [0, 1, 7]" not in output:
        problems.append(f"the client did not print the labels [0, 1, 7] of the three samples; its output:\n{output}")
    return Verdict(problems, info="the client answered [0, 1, 7] through v2 and v1 and read /metrics")
