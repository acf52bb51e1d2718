"""Dockerfile policies: pure functions over parsed instructions, each returning Findings; and the sources the Docker
daemon itself would fetch (refused before the grader builds a learner's file)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.policies.findings import Finding

DOCKERFILE = "model_server/Dockerfile"


@dataclass(frozen=True)
class Instruction:
    cmd: str  # upper case, e.g. "FROM"
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and blank lines dropped."""
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # comment lines inside a continuation are skipped by Docker
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = " ".join(b.strip() for b in buf).strip()
        buf = []
        if joined:
            cmd, _, args = joined.partition(" ")
            out.append(Instruction(cmd.upper(), args.strip(), start))
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions per build stage (each starts with its FROM)."""
    out: list[list[Instruction]] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            out.append([ins])
        elif out:
            out[-1].append(ins)
    return out


def _finding(check: str, ins: Instruction | None, message: str) -> Finding:
    return Finding(check, "Dockerfile", f"line {ins.line}" if ins else "(file)", message)


def check_multi_stage(instructions: list[Instruction]) -> list[Finding]:
    st = stages(instructions)
    if len(st) < 2:
        return [
            _finding(
                "multi_stage",
                None,
                f"{len(st)} stage(s): build in a builder stage, then COPY --from it into a slim runtime stage",
            )
        ]
    final = st[-1]
    # `COPY --from=x / /` flattens a base image into this stage; a build artefact is a narrower path.
    artefacts = [
        i for i in final if i.cmd == "COPY" and "--from=" in i.args and not re.search(r"\s/\s+/$", f" {i.args}")
    ]
    if not artefacts:
        message = (
            "the final stage copies nothing from an earlier stage: COPY --from=builder what it built (venv, models)"
        )
        return [_finding("multi_stage", final[0], message)]
    return []


def _user_of(args: str) -> str:
    return args.split()[0].split(":")[0] if args.split() else ""


def check_non_root(instructions: list[Instruction]) -> list[Finding]:
    st = stages(instructions)
    users = [i for i in (st[-1] if st else []) if i.cmd == "USER"]
    if not users:
        return [
            _finding(
                "non_root",
                None,
                "the final stage has no USER: the server runs as root; add `USER 10001:10001` after creating the user",
            )
        ]
    last = users[-1]
    if _user_of(last.args) in ("root", "0"):
        return [
            _finding(
                "non_root",
                last,
                f"USER {last.args} runs the server as root; switch to an unprivileged user (e.g. 10001)",
            )
        ]
    return []


def check_healthcheck(instructions: list[Instruction]) -> list[Finding]:
    st = stages(instructions)
    checks = [i for i in (st[-1] if st else []) if i.cmd == "HEALTHCHECK"]
    if not checks:
        return [_finding("healthcheck", None, "the final stage has no HEALTHCHECK; add one that asks /v2/health/ready")]
    if checks[-1].args.strip().upper() == "NONE":
        return [
            _finding("healthcheck", checks[-1], "HEALTHCHECK NONE disables the health check; use HEALTHCHECK CMD ...")
        ]
    return []


_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}?")


def check_pinned_base(instructions: list[Instruction]) -> list[Finding]:
    """Every base image has an explicit tag other than latest (or a digest); ARG defaults are resolved."""
    args: dict[str, str] = {}
    names: set[str] = set()
    out = []
    for ins in instructions:
        if ins.cmd == "ARG" and not names:  # global ARGs before the first FROM feed FROM lines
            key, _, default = ins.args.partition("=")
            args[key.strip()] = default.strip().strip("\"'")
        if ins.cmd != "FROM":
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        if not words:
            out.append(_finding("pinned_base", ins, "FROM without an image"))
            continue
        image = _VAR.sub(lambda m: args.get(m.group(1)) or (m.group(2) or ""), words[0])
        if len(words) >= 3 and words[1].upper() == "AS":
            names.add(words[2].lower())
        if image.lower() in names or image == "scratch" or "@sha256:" in image:
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not image:
            out.append(
                _finding("pinned_base", ins, f"FROM {words[0]}: the ARG has no default; give it a tagged default")
            )
        elif not tag or tag == "latest":
            out.append(
                _finding(
                    "pinned_base", ins, f"base image {image} is not pinned: use an explicit version tag, never :latest"
                )
            )
    return out


_REMOTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|^git@|\$", re.M)
_DIRECTIVE = re.compile(r"#\s*(syntax|escape)\s*=", re.I)


def _flags(args: str) -> tuple[dict[str, str], list[str]]:
    """`--name=value` flags and the remaining words of an instruction (JSON form read as words too)."""
    words = args.strip().strip("[]").replace('", "', " ").replace('","', " ").replace('"', "").split()
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    return flags, [w for w in words if not w.startswith("--")]


def remote_sources(text: str, base_image: str) -> list[str]:
    """Everything the Docker daemon, rather than the sandboxed RUN container, would fetch or read: ADD of a
    URL or git repository, an image that is neither the base image nor an earlier stage (FROM, COPY --from),
    a variable where a source or an image is named (it could spell a URL), and parser directives (a remote
    `# syntax=` frontend, or `# escape=` that would make this parser and Docker's disagree). Refused, never built.
    """
    problems = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw.lstrip().startswith("#"):
            break
        if _DIRECTIVE.match(raw.strip()):
            problems.append(f"parser directive `{raw.strip()}`: remove it (the grader builds with Docker's defaults)")
    args: dict[str, str] = {"BASE_IMAGE": base_image}
    stages: list[str] = []
    for ins in parse(text):
        flags, words = _flags(ins.args)
        if ins.cmd == "ARG" and not stages:
            key, _, default = ins.args.partition("=")
            args.setdefault(key.strip(), default.strip().strip("\"'"))
        elif ins.cmd == "FROM":
            image = _VAR.sub(lambda m: args.get(m.group(1)) or (m.group(2) or ""), words[0] if words else "")
            if image.lower() not in stages and image not in (base_image, "scratch"):
                problems.append(
                    f"line {ins.line}: FROM {words[0] if words else ''} names an image other than the base image "
                    "(ARG BASE_IMAGE) or an earlier stage; the grader builds only on its base image"
                )
            stages.append(words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else f"#{len(stages)}")
        elif ins.cmd in ("ADD", "COPY"):
            source = flags.get("from")
            if (
                source is not None
                and source.lower() not in stages
                and not (source.isdigit() and int(source) < len(stages))
            ):
                problems.append(
                    f"line {ins.line}: {ins.cmd} --from={source} is not an earlier stage; the daemon would fetch "
                    "that image: copy only from a stage of this Dockerfile"
                )
            if ins.cmd == "ADD" and (_REMOTE.search(" ".join(words[:-1])) or "checksum" in flags):
                problems.append(
                    f"line {ins.line}: ADD {' '.join(words[:-1])[:80]} fetches from a URL or repository (or names "
                    "it through a variable): the Docker daemon would fetch it from the grading machine; "
                    "COPY files from the build context instead"
                )
    return problems


POLICIES = {
    "multi_stage": check_multi_stage,
    "non_root": check_non_root,
    "healthcheck": check_healthcheck,
    "pinned_base": check_pinned_base,
}
