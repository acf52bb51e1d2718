"""Lab 01 live: the learner's client.py runs in a container (read-only mount, non-root, limits) against
a real model-server container on a private internal network; it must print the right labels, exit 0, and the
server must have answered its requests (its own request counter, read inside its container after the run), so a
client that only prints the expected labels fails."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from grader import sandbox
from grader.catalog import register
from grader.context import Context, Verdict
from grader.requirements import SERVER_IMAGE

CLIENT = "labs/01-serve/client.py"
REQUESTS = 5  # the client's --requests; with one v2 and one v1 call it makes REQUESTS + 2 inference requests
SCRAPE = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/metrics', timeout=10).read().decode())"


def answered(server: str, model: str = "digits") -> int:
    """Inference requests for `model` the server answered with 200, from its /metrics (read inside it)."""
    proc = sandbox.docker("exec", server, "python", "-c", SCRAPE, timeout=60)
    return int(
        sum(
            s.value
            for family in text_string_to_metric_families(proc.stdout)
            for s in family.samples
            if s.name == "model_server_requests_total" and s.labels.get("model") == model
            and s.labels.get("code") == "200"
        )
    )  # fmt: skip


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
        command=("python", "/submission/client.py", "--url", "http://server:8000", "--requests", str(REQUESTS)),
    )  # fmt: skip
    code, output = sandbox.wait_exit(client, run_s)
    problems = []
    if code != 0:
        problems.append(f"`python {path} --url ...` exited {code} against a real server; its output:\n{output}")
    elif "labels [0, 1, 7]" not in output:
        problems.append(f"the client did not print the labels [0, 1, 7] of the three samples; its output:\n{output}")
    elif (count := answered(server)) < REQUESTS + 2:
        problems.append(
            f"the client printed the labels, but the server answered {count} digits inference requests, not the "
            f"{REQUESTS + 2} it makes (one v2, one v1, then --requests {REQUESTS}): print what the server returns"
        )
    return Verdict(problems, info="the client answered [0, 1, 7] through v2 and v1 and read /metrics")
