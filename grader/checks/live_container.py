"""Lab 02 live: build the learner's Dockerfile (no network, memory and CPU caps, offline base image and
wheelhouse) and run the image read-only with no capabilities and no network; it must become healthy.

`docker build` has no process limit, so a Dockerfile whose RUN lines can fork without bound is refused
before building (the static policies must pass first as well).
"""

from __future__ import annotations

import re
import time

from grader import sandbox
from grader.catalog import register
from grader.checks.dockerfile import DOCKERFILE, POLICIES, parse
from grader.context import Context, Fail, Verdict, cap
from grader.requirements import BASE_IMAGE

_FORK = re.compile(r"(\w+|:)\s*\(\)\s*\{[^}]*\|[^}]*&|os\.fork|\bfork\s*\(|while\s+true.*&\s*done")


@register("container.ready")
def container_ready(ctx: Context, path: str = DOCKERFILE, ready_s: float = 90, build_s: float = 600) -> Verdict:
    instructions = parse(ctx.text(path))
    blocked = [f for rule in POLICIES.values() for f in rule(instructions)]
    if blocked:
        raise Fail(f"not built: fix the static Dockerfile checks first ({blocked[0].message})")
    forks = [i for i in instructions if i.cmd == "RUN" and _FORK.search(i.args)]
    if forks:
        raise Fail(f"not built: RUN at line {forks[0].line} can fork without bound (a fork bomb); remove it")
    tag = f"{ctx.name('image')}:check"
    ctx.cleanups.append(lambda: sandbox.remove("image", tag))
    start = time.monotonic()
    proc = sandbox.docker(
        "build", "--network", "none", "--memory", "2g", "--cpu-quota", "100000", "--force-rm",
        "--file", str(ctx.file(path)), "--tag", tag,
        "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--build-arg", "WHEELHOUSE=wheelhouse",
        str(ctx.reference), timeout=build_s,
    )  # fmt: skip
    if proc.returncode != 0:
        raise Fail(f"docker build failed:\n{cap(proc.stdout + proc.stderr, 1500)}")
    build_took = time.monotonic() - start
    user = sandbox.docker("image", "inspect", "--format", "{{.Config.User}}", tag).stdout.strip()
    if user.split(":")[0] in ("", "root", "0"):
        return Verdict([f"the image runs as {user or 'root (no USER)'}; set a non-root USER"])
    name = sandbox.run_detached(ctx, "run", tag, "--read-only", "--tmpfs", "/tmp", "--health-interval", "1s")
    ready = sandbox.wait_healthy(name, ready_s)
    return Verdict(
        info=f"built in {build_took:.0f} s; healthy {ready:.1f} s after start, read-only, user {user}, no network"
    )
