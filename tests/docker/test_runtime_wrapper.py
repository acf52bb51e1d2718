"""The runtime wrapper for build machines without CAP_SYS_RESOURCE (scripts/runc-drop-sys-resource), and
scripts/ci-docker.sh registering it only where privileged containers (kind nodes) fail to start."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "scripts" / "runc-drop-sys-resource"
ALL_KINDS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def _caps(*names: str) -> dict[str, list[str]]:
    return {kind: list(names) for kind in ALL_KINDS}


def _run_wrapper(*args: str) -> None:
    # /bin/echo stands in for runc: the wrapper edits the files, then execs it with the same arguments.
    out = subprocess.run(
        [str(WRAPPER), *args], env={**os.environ, "REAL_RUNC": "/bin/echo"}, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == list(args)


def test_create_drops_sys_resource_from_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"process": {"capabilities": _caps("CAP_SYS_ADMIN", "CAP_SYS_RESOURCE")}})
    )
    _run_wrapper("--root", "/run/x", "create", "--bundle", str(tmp_path), "--pid-file", "p", "id1")
    caps = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    assert caps == _caps("CAP_SYS_ADMIN")


def test_exec_drops_sys_resource_from_the_process_file(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sh"], "capabilities": _caps("CAP_SYS_RESOURCE", "CAP_NET_ADMIN")}))
    _run_wrapper("exec", "--process", str(process), "--detach", "id1")
    assert json.loads(process.read_text())["capabilities"] == _caps("CAP_NET_ADMIN")


def test_other_commands_pass_through(tmp_path: Path) -> None:
    _run_wrapper("--root", "/run/x", "state", "id1")


def test_ci_docker_leaves_privileged_containers_startable(docker_engine: None) -> None:
    if os.geteuid() != 0:
        pytest.skip("scripts/ci-docker.sh changes the engine's runtime only as root")
    setup = subprocess.run([str(ROOT / "scripts" / "ci-docker.sh")], capture_output=True, text=True, timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    # An empty image: a privileged container that starts fails only because /probe does not exist.
    probe = subprocess.run(
        ["docker", "run", "--rm", "--privileged", "--entrypoint", "/probe", "ai-hosting-labs/empty:probe"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "unable to apply caps" not in probe.stderr, setup.stdout + probe.stderr
    assert "/probe" in probe.stderr
