"""Lab 02 live: build the learner's Dockerfile (grader.builds: classic builder, no network, processes,
memory, disk and time bounded by mechanism, everything it made removed afterwards) on the offline base
image and wheelhouse, then run the image read-only with no capabilities and no network; it must become
healthy. What the Docker daemon itself would fetch (ADD of a URL, other images) is refused before building.
"""

from __future__ import annotations

from grader import builds, sandbox
from grader.catalog import register
from grader.context import Context, cap
from grader.policies.dockerfile import DOCKERFILE, POLICIES, parse, remote_sources
from grader.verdict import Fail, Verdict


@register("container.ready")
def container_ready(ctx: Context, path: str = DOCKERFILE, ready_s: float = 90, build_s: float = 300) -> Verdict:
    text, base_image = ctx.text(path), ctx.settings.base_image
    refused = remote_sources(text, base_image)
    if refused:
        raise Fail("not built: " + "; ".join(refused))
    blocked = [f for rule in POLICIES.values() for f in rule(parse(text))]
    if blocked:
        raise Fail(f"not built: fix the static Dockerfile checks first ({blocked[0].message})")
    tag = f"{ctx.name('image')}:check"
    done = builds.build(
        ctx, ctx.file(path), ctx.reference, tag, {"BASE_IMAGE": base_image, "WHEELHOUSE": "wheelhouse"},
        base_image, build_s,
    )  # fmt: skip
    if not done.ok:
        raise Fail(f"docker build failed{': ' + done.stopped if done.stopped else ''}:\n{cap(done.log, 1500)}")
    user = sandbox.docker("image", "inspect", "--format", "{{.Config.User}}", tag).stdout.strip()
    if user.split(":")[0] in ("", "root", "0"):
        return Verdict([f"the image runs as {user or 'root (no USER)'}; set a non-root USER"])
    name = sandbox.run_detached(ctx, "run", tag, "--read-only", "--tmpfs", "/tmp", "--health-interval", "1s")
    ready = sandbox.wait_healthy(name, ready_s)
    return Verdict(
        info=f"built in {done.seconds:.0f} s (limit {build_s:g} s); healthy {ready:.1f} s after start, "
        f"read-only, user {user}, no network"
    )
