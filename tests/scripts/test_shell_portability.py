"""scripts/ run on learners' laptops too: macOS ships bash 3.2 and BSD tools, and every script runs under pipefail.

Static checks over every script (bash 4+ features, GNU-only tools, pipes cut short), and the portable stand-ins
run for real with a PATH that has no GNU `timeout`.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
# Build-machine scripts: Debian's Docker engine, debootstrap as root, the kind node image. Linux by design.
LINUX_ONLY = {"ci-docker.sh", "base-image.sh"} | {p.name for p in (ROOT / "scripts").glob("kind-*.sh")}

BASH4 = {
    "mapfile/readarray (bash 4)": r"\b(mapfile|readarray)\b",
    "associative or nameref declare (bash 4)": r"\b(declare|local|typeset)\s+-\w*[An]",
    "case conversion ${x,,} ${x^^} (bash 4)": r"\$\{\w+(\[[^]]*\])?(,,?|\^\^?)\}",
    "[[ -v ]] (bash 4.2)": r"\[\[\s+-v\s",
    "wait -n (bash 4.3)": r"\bwait\s+-n\b",
    "coproc (bash 4)": r"\bcoproc\b",
    "|& and &>> (bash 4)": r"\|&|&>>",
    ";& and ;;& in case (bash 4)": r";;&|[^;];&\s*$",
    "negative array index (bash 4.3)": r"\$\{\w+\[-\d+\]\}",
    "EPOCHSECONDS (bash 5)": r"\bEPOCH(SECONDS|REALTIME)\b",
    "shopt globstar/lastpipe/inherit_errexit (bash 4)": r"shopt\s+-s\s+(globstar|lastpipe|inherit_errexit)",
    "${x@Q} transformations (bash 4.4)": r"\$\{\w+@[QEPAaUuLK]\}",
    "BASHPID (bash 4)": r"\bBASHPID\b",
    "declare -g / read -i -N (bash 4)": r"\b(declare|local|typeset)\s+-\w*g|\bread\s+(-\w+\s+)*-\w*[iN]",
    "printf %(...)T (bash 4.2)": r"%\([^)]*\)T",
    "{fd}> redirection (bash 4.1)": r"\{\w+\}[<>]",
    "brace range with a step or zero padding (bash 4)": r"\{-?\d+\.\.-?\d+\.\.-?\d+\}|\{0\d+\.\.",
}
GNU_ONLY = {
    "GNU timeout (macOS has none)": r"(^|[\s;&|(])timeout\s+-?\d",
    "sed -i (BSD sed needs an argument)": r"\bsed\s+(-\w+\s+)*-i\b",
    "readlink -f (BSD readlink has none)": r"\breadlink\s+-f\b",
    "grep -P (BSD grep has none)": r"\bgrep\s+(-\w+\s+)*-\w*P",
    "find -printf (BSD find has none)": r"\s-printf\b",
    "date -d (BSD date has none)": r"\bdate\s+(-d|--date)\b",
    "nproc (not on macOS)": r"\bnproc\b",
    "sha256sum (macOS has shasum)": r"\bsha256sum\b",
    "stat -c (BSD stat uses -f)": r"\bstat\s+-c\b",
    "xargs -r (BSD xargs has none)": r"\bxargs\s+(-\w+\s+)*-r\b",
    "base64 -w (BSD base64 has none)": r"\bbase64\s+-w\b",
    "sort -V (old BSD sort has none)": r"\bsort\s+(-\w+\s+)*-V\b",
}
# Under pipefail, a reader that stops early (grep -q/-m, head) kills a writer that still writes (SIGPIPE):
# the pipeline then fails although the reader found what it looked for.
CUT_SHORT = r"\|\s*(grep\s+(-\w+\s+)*-\w*[qm]|head\b)"


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the shell code: comments and Python heredocs (<<'PY' ... PY) left out."""
    lines, heredoc = [], None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if match := re.search(r"<<-?'?(\w+)'?\s*$", line):
            heredoc = match.group(1)
        if not line.lstrip().startswith("#"):
            lines.append((number, re.sub(r"\s#\s.*$", "", line)))  # a trailing comment too
    return lines


def offenders(patterns: dict[str, str], scripts: list[Path]) -> list[str]:
    return [
        f"{path.name}:{number}: {what}: {line.strip()}"
        for path in scripts
        for number, line in code_lines(path)
        for what, pattern in patterns.items()
        if re.search(pattern, line)
    ]


def test_no_bash4_features() -> None:
    assert offenders(BASH4, SCRIPTS) == []


def test_no_gnu_only_tools_where_learners_run() -> None:
    assert offenders(GNU_ONLY, [p for p in SCRIPTS if p.name not in LINUX_ONLY]) == []


def test_no_pipe_cut_short_under_pipefail() -> None:
    pipefail = [*SCRIPTS, ROOT / "Makefile", ROOT / ".ci" / "run"]
    assert offenders({"reader stops early (SIGPIPE)": CUT_SHORT}, pipefail) == []


def test_the_checks_catch_what_they_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("mapfile -t a < <(ls)\ntimeout 60 docker pull x\nkind get clusters | grep -qx y\n# mapfile\n")
    assert len(offenders(BASH4, [bad])) == 1
    bad4 = tmp_path / "bad4.sh"
    bad4.write_text('exec {fd}>x\nprintf "%(%s)T" -1\nfor i in {1..9..2}; do :; done\necho $BASHPID\nread -N 1 c\n')
    assert len(offenders(BASH4, [bad4])) == 5
    assert len(offenders(GNU_ONLY, [bad])) == 1
    assert len(offenders({"cut": CUT_SHORT}, [bad])) == 1


@pytest.fixture
def no_timeout_path(tmp_path: Path) -> dict[str, str]:
    """A PATH with the few tools docker-lib.sh needs, without GNU `timeout` (as on macOS), and a stub docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sleep", "uname", "dirname", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return {"PATH": str(bin_dir), "BIN": str(bin_dir)}


def lib(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    script = f"set -o errexit -o nounset -o pipefail; source scripts/docker-lib.sh; {code}"
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, **env}
    )


def test_the_online_path_is_picked_without_gnu_timeout(no_timeout_path: dict[str, str]) -> None:
    docker = Path(no_timeout_path["BIN"]) / "docker"
    docker.write_text("#!/bin/bash\n[[ $1 == pull ]]\n")  # nothing local, the pull works
    docker.chmod(0o755)
    proc = lib(no_timeout_path, 'pick_build_path; echo "$BUILD_PATH: $BUILD_REASON"')
    assert proc.stdout.strip() == "online: pulled python:3.11-slim", proc.stderr


def test_run_bounded_stops_a_hung_command_and_leaves_nothing(no_timeout_path: dict[str, str], tmp_path: Path) -> None:
    marker = f"{tmp_path}/hung"
    started = time.monotonic()
    proc = lib(no_timeout_path, f'run_bounded 1 bash -c "exec -a {marker} sleep 30" && echo done || echo "stopped $?"')
    assert proc.stdout.strip() == "stopped 143", proc.stderr
    assert time.monotonic() - started < 10
    ps = subprocess.run(["ps", "-Aww", "-o", "args="], capture_output=True, text=True, check=True).stdout
    assert marker not in ps


def test_run_bounded_passes_a_quick_command_through(no_timeout_path: dict[str, str]) -> None:
    proc = lib(no_timeout_path, 'run_bounded 30 bash -c "exit 3" || echo "status $?"')
    assert proc.stdout.strip() == "status 3"


def test_the_offline_path_off_linux_says_why(no_timeout_path: dict[str, str]) -> None:
    bin_dir = Path(no_timeout_path["BIN"])
    (bin_dir / "uname").unlink()
    for name, body in (("uname", "echo Darwin"), ("docker", "exit 1")):  # macOS; nothing pulls, nothing local
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    proc = lib(no_timeout_path, "pick_build_path; base_image_for_path")
    assert proc.returncode != 0
    assert "built with debootstrap on Linux only" in proc.stderr
    assert "debootstrap needs root" not in proc.stderr
