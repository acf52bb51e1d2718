"""The live-workflow scripts without a cluster: they parse, and each guard says what is missing and how to fix it."""

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("k8s-*.sh"))
NO_KIND = {"KIND": "kind-is-not-installed-here", "KUBECTL": str(ROOT / ".venv" / "bin" / "kubectl")}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, **env}, check=False
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_is_strict(script: Path) -> None:
    assert run("bash", "-n", str(script), env={}).returncode == 0
    if script.name != "k8s-lib.sh":  # sourced, not run
        assert "set -o errexit -o nounset -o pipefail" in script.read_text()
        assert os.access(script, os.X_OK)


@pytest.mark.parametrize(
    "command",
    [
        ["scripts/k8s-cluster.sh", "up"],
        ["scripts/k8s-cluster.sh", "down"],
        ["scripts/k8s-chaos.sh"],
        ["scripts/k8s-rollout.sh"],
        ["scripts/k8s-loadtest.sh"],
        ["scripts/k8s-hpa-watch.sh", "/dev/null", "5"],
    ],
    ids=lambda c: " ".join(c)[8:],
)
def test_missing_kind_is_said_with_how_to_install(command: list[str]) -> None:
    proc = run(*command, env=NO_KIND)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("k8s: kind not found: install it from https://kind.sigs.k8s.io/")


@pytest.mark.parametrize("image", ["ai-hosting-labs/model-server:latest", "ai-hosting-labs/model-server"])
def test_deploy_refuses_latest_or_untagged(image: str) -> None:
    proc = run("scripts/k8s-deploy.sh", env={**NO_KIND, "IMAGE": image})
    assert proc.returncode == 1
    assert "use a pinned tag, never :latest" in proc.stderr


# --- The scripts run against stand-ins for kind, kubectl, docker and the load generator on PATH (no cluster).
# BASH32=/path/to/bash-3.2 (macOS's /bin/bash version) also runs them under that bash: a `bash` first on PATH
# makes every `#!/usr/bin/env bash` script, stand-ins included, run under it.
SHELLS = ["bash", *([os.environ["BASH32"]] if os.environ.get("BASH32") else [])]
REAL_PYTHON = str(ROOT / ".venv" / "bin" / "python")
OUTER_KNOBS = {"REQUIRE_KIND", "KIND_TESTS", "KEEP_CLUSTER", "IMAGE", "LOAD", "USERS", "DURATION", "TAIL_S",
               "SETTLE_S", "INTERVAL", "DIGITS_VERSION", "READY_S"}  # fmt: skip


class Stubs:
    def __init__(self, root: Path, shell: str) -> None:
        self.bin, self.log, self.results = root / "bin", root / "calls.log", root / "results"
        self.bin.mkdir()
        if shell != "bash":
            (self.bin / "bash").symlink_to(shell)
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "STUB_LOG": str(self.log),
            "KIND": "kind",
            "KIND_CLUSTER": "ai-hosting-labs",
            "KUBECTL": "kubectl",
            "PYTHON": str(self.bin / "python"),
            "RESULTS": str(self.results),
        }
        self.tool("kind", 'case "$1 $2" in "get clusters") echo ai-hosting-labs ;; esac')
        # `python -m loadtest run ... --out DIR`: a load that lasts LOAD_S and fails nothing; anything else is Python.
        self.tool(
            "python",
            f"""
            if [[ $1 == -m ]]; then
                while [[ $# -gt 0 && $1 != --out ]]; do shift; done
                mkdir -p "$2" && echo '{{"total": {{"failures": 0}}}}' >"$2/summary.json"
                sleep "${{LOAD_S:-1}}"
                exit 0
            fi
            exec {REAL_PYTHON} "$@"
            """,
        )

    def tool(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$STUB_LOG"\n{textwrap.dedent(body)}\n')
        path.chmod(0o755)

    def calls(self, prefix: str = "") -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line for line in lines if line.startswith(prefix)]

    def run(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        # The caller's opt-ins (CI sets REQUIRE_KIND=1) and knobs are not the stand-ins' business.
        outer = {k: v for k, v in os.environ.items() if k not in OUTER_KNOBS}
        return subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**outer, **self.env, **env}
        )


@pytest.fixture(params=SHELLS, ids=lambda s: "bash" if s == "bash" else "bash32")
def stubs(request: pytest.FixtureRequest, tmp_path: Path) -> Stubs:
    return Stubs(tmp_path, request.param)


def test_a_long_cluster_list_still_finds_the_cluster(stubs: Stubs) -> None:
    # grep -q stops reading at the first match; kind, still writing, dies of SIGPIPE; pipefail made that "no cluster".
    stubs.tool("kind", "echo ai-hosting-labs; for i in $(seq 1 20000); do echo other-$i; done")
    proc = stubs.run("bash", "-c", "set -o errexit -o nounset -o pipefail; source scripts/k8s-lib.sh; need_cluster")
    assert proc.returncode == 0, proc.stderr


def test_a_missing_cluster_is_said(stubs: Stubs) -> None:
    stubs.tool("kind", "echo another-cluster")
    proc = stubs.run("scripts/k8s-chaos.sh")
    assert proc.returncode == 1
    assert "no kind cluster named ai-hosting-labs: 'make cluster-up' first" in proc.stderr


def pod(name: str, ready: bool = True, terminating: bool = False) -> dict:
    meta: dict = {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if terminating else {})}
    conditions = [{"type": "Ready", "status": str(ready)}]
    return {"metadata": meta, "status": {"phase": "Running", "conditions": conditions}}


@pytest.mark.slow
def test_chaos_never_picks_a_terminating_or_unready_pod(stubs: Stubs, tmp_path: Path) -> None:
    pods = {"items": [pod("a-terminating", terminating=True), pod("b-unready", ready=False), pod("c-ready")]}
    (tmp_path / "pods.json").write_text(json.dumps(pods))
    # kubectl as it answers: the pod list (JSON, or the first item's name for a jsonpath), the deleted pod gone.
    stubs.tool(
        "kubectl",
        f"""
        case "$*" in
            *"get pods"*"-o json"*) cat {tmp_path / "pods.json"} ;;
            *"get pods"*"items[0].metadata.name"*) echo a-terminating ;;
            *"get deployment"*"spec.replicas"*|*"get deployment"*"readyReplicas"*) echo 3 ;;
            *"get pod "*) exit 1 ;;
        esac
        """,
    )
    proc = stubs.run("scripts/k8s-chaos.sh", LOAD_S="12")
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[-2] for c in stubs.calls("kubectl") if " delete pod " in c] == ["c-ready"]
    assert "failed requests: 0" in proc.stdout


@pytest.mark.slow
def test_chaos_says_when_no_pod_can_be_picked(stubs: Stubs, tmp_path: Path) -> None:
    (tmp_path / "pods.json").write_text(json.dumps({"items": [pod("a", terminating=True)]}))
    stubs.tool("kubectl", f'case "$*" in *"get pods"*"-o json"*) cat {tmp_path / "pods.json"} ;; esac')
    proc = stubs.run("scripts/k8s-chaos.sh", LOAD_S="12")
    assert proc.returncode == 1
    assert "no model-server pod is Running, Ready and not terminating" in proc.stderr
    assert not [c for c in stubs.calls("kubectl") if " delete " in c]


def deploy_with_image_id(stubs: Stubs, image_id: str, tmp_path: Path) -> str:
    """Run k8s-deploy.sh with docker reporting `image_id` for the image; returns the kustomization it applied."""
    stubs.tool("docker", f'case "$1 $2" in "image inspect") echo sha256:{image_id} ;; esac')
    applied = tmp_path / "applied.yaml"
    stubs.tool(
        "kubectl",
        f"""
        case "$*" in
            *"apply --kustomize "*) cat "${{@: -1}}/kustomization.yaml" >{applied} ;;
            *"minReplicas"*|*"readyReplicas"*) echo 2 ;;
        esac
        """,
    )
    proc = stubs.run("scripts/k8s-deploy.sh", IMAGE="ai-hosting-labs/model-server:0a1b2c3-dirty")
    assert proc.returncode == 0, proc.stderr
    return applied.read_text()


def test_a_rebuilt_image_under_a_reused_tag_is_rolled_out(stubs: Stubs, tmp_path: Path) -> None:
    first = deploy_with_image_id(stubs, "1" * 64, tmp_path)
    second = deploy_with_image_id(stubs, "2" * 64, tmp_path)
    again = deploy_with_image_id(stubs, "2" * 64, tmp_path)
    assert first != second, "a new image under the same tag must change the pod template"
    assert second == again, "the same image must not roll out again"
    assert 'newTag: "0a1b2c3-dirty-222222222222"' in second
    loaded = [c.split()[3] for c in stubs.calls("kind load docker-image")]
    assert loaded[-1] == "ai-hosting-labs/model-server:0a1b2c3-dirty-222222222222"
    assert f"docker tag {'2' * 64} ai-hosting-labs/model-server:0a1b2c3-dirty-222222222222" in stubs.calls("docker")


def deploy_while_the_hpa_scales_to_min(
    stubs: Stubs, tmp_path: Path, ready: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """k8s-deploy.sh on a new cluster: the rollout is done with 1 pod, the HPA (minReplicas 2) adds the second;
    `ready` is the Deployment's readyReplicas, one value per query (the last one repeats)."""
    stubs.tool("docker", 'case "$1 $2" in "image inspect") echo sha256:' + "4" * 64 + " ;; esac")
    (tmp_path / "ready").write_text(ready.replace(" ", "\n") + "\n")
    stubs.tool(
        "kubectl",
        f"""
        case "$*" in
            *"minReplicas"*) echo 2 ;;
            *"readyReplicas"*) head -n 1 {tmp_path / "ready"}
                [[ $(wc -l <{tmp_path / "ready"}) -le 1 ]] || sed -i.bak 1d {tmp_path / "ready"} ;;
        esac
        """,
    )
    return stubs.run("scripts/k8s-deploy.sh", IMAGE="ai-hosting-labs/model-server:0a1b2c3", **env)


@pytest.mark.slow
def test_deploy_waits_for_the_hpas_minimum_of_ready_pods(stubs: Stubs, tmp_path: Path) -> None:
    # A new cluster: `rollout status` returns with 1 pod, and lab 04's check then found 1 of 2 ready (it failed).
    proc = deploy_while_the_hpa_scales_to_min(stubs, tmp_path, "1 1 1 2")
    assert proc.returncode == 0, proc.stderr
    assert "deploy: 1 of 2 pods ready (the HPA's minReplicas); waiting" in proc.stdout
    assert len([c for c in stubs.calls("kubectl") if "readyReplicas" in c]) >= 4


def test_deploy_says_when_the_hpas_minimum_never_comes(stubs: Stubs, tmp_path: Path) -> None:
    proc = deploy_while_the_hpa_scales_to_min(stubs, tmp_path, "1", READY_S="0")
    assert proc.returncode == 1
    assert "deploy: 1 of the HPA's minReplicas (2) pods ready after 0s" in proc.stderr


def kind_suite(stubs: Stubs, **env: str) -> subprocess.CompletedProcess[str]:
    """tests/kind in its own pytest, against a kind that keeps its clusters in a file, a Docker and a kubectl that
    say yes. Only the NodePort test is selected: it sends one request to 127.0.0.1:30080 when something answers."""
    state = stubs.bin.parent / "clusters"
    stubs.tool(
        "kind",
        f"""
        case "$1 $2" in
            "get clusters") cat {state} 2>/dev/null || true ;;
            "create cluster") echo ai-hosting-labs >{state} ;;
            "delete cluster") rm -f {state} ;;
            "get nodes") echo ai-hosting-labs-control-plane ;;
        esac
        """,
    )
    stubs.tool("docker", 'case "$1 $2" in "image inspect") echo sha256:' + "3" * 64 + " ;; esac")
    stubs.tool("kubectl", 'case "$*" in *"minReplicas"*|*"readyReplicas"*) echo 2 ;; esac')
    return stubs.run(
        REAL_PYTHON, "-m", "pytest", "tests/kind", "-q", "-p", "no:cacheprovider", "-k", "nodeport",
        timeout=300, IMAGE="ai-hosting-labs/model-server:stub", **env,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("stubs", ["bash"], indirect=True)
def test_make_test_never_starts_a_cluster_even_with_kind_installed(stubs: Stubs) -> None:
    proc = kind_suite(stubs)
    assert "1 skipped" in proc.stdout and "KIND_TESTS=1" in proc.stdout, proc.stdout[-2000:]
    assert not [c for c in stubs.calls("kind") if "create" in c]


@pytest.mark.slow
@pytest.mark.parametrize("stubs", ["bash"], indirect=True)
def test_the_kind_suite_deletes_the_cluster_it_created(stubs: Stubs) -> None:
    kind_suite(stubs, KIND_TESTS="1")
    assert [c.split()[1] for c in stubs.calls("kind") if " cluster " in c] == ["create", "delete"]


@pytest.mark.slow
@pytest.mark.parametrize("stubs", ["bash"], indirect=True)
def test_the_kind_suite_keeps_a_cluster_when_told_or_when_it_was_there(stubs: Stubs) -> None:
    kind_suite(stubs, KIND_TESTS="1", KEEP_CLUSTER="1")
    assert [c.split()[1] for c in stubs.calls("kind") if " cluster " in c] == ["create"]
    kind_suite(stubs, KIND_TESTS="1")  # the cluster exists now: used, left up
    assert [c.split()[1] for c in stubs.calls("kind") if " cluster " in c] == ["create"]


def loadtest_with_replicas(
    stubs: Stubs, tmp_path: Path, after_load: str, before: str = "2", **env: str
) -> subprocess.CompletedProcess:
    """k8s-loadtest.sh with an HPA at `before` replicas (minReplicas 2), 4 during a 2 s load; `after_load` is what
    replicas becomes 3 s after it. The load writes what a run writes (one request); replicas-chart is the real one."""
    state = tmp_path / "replicas"
    state.write_text(before)
    stubs.tool(
        "kubectl",
        f"""
        case "$*" in
            *"spec.minReplicas"*) echo 2 ;;
            *"get hpa"*) r=$(cat {state}); echo "$r,$r,$r,70" ;;
            *"readyReplicas"*) cat {state} ;;
        esac
        """,
    )
    stubs.tool("curl", "")
    stubs.tool(
        "python",
        f"""
        if [[ "$1 $2 $3" == "-m loadtest run" ]]; then
            while [[ $1 != --out ]]; do shift; done
            mkdir -p "$2"
            echo 4 >{state}
            echo '{{"profile": "digits", "users": 96}}' >"$2/summary.json"
            header=start,name,method,model,status,latency_ms,length,error
            printf '%s\\n%s,d,POST,digits,200,5,1,\\n' "$header" "$(date +%s)" >"$2/timings.csv"
            sleep 2
            (sleep 3; echo {after_load} >{state}) >/dev/null 2>&1 &
            exit 0
        fi
        exec {REAL_PYTHON} "$@"
        """,
    )
    return stubs.run("scripts/k8s-loadtest.sh", INTERVAL="1", timeout=60, **env)


@pytest.mark.slow
def test_loadtest_records_the_scale_down_then_draws_the_chart(stubs: Stubs, tmp_path: Path) -> None:
    proc = loadtest_with_replicas(stubs, tmp_path, after_load="2", TAIL_S="30")
    assert proc.returncode == 0, proc.stderr
    assert "k8s-loadtest: peak 4 replicas, back at 2" in proc.stdout
    out = stubs.results / "k8s-loadtest"
    rows = (out / "hpa.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1] for r in rows][-1] == "2" and "4" in [r.split(",")[1] for r in rows]
    # Drawn after the last row: the chart holds the scale-down (the watcher had stopped).
    assert (out / "replicas.png").stat().st_mtime >= (out / "hpa.csv").stat().st_mtime
    run = " ".join(stubs.calls("python -m loadtest run"))
    assert "--load labs/05-autoscale/step-load.csv --users 288 --reconnect-every 10" in run


@pytest.mark.slow
def test_loadtest_says_when_the_scale_down_never_comes(stubs: Stubs, tmp_path: Path) -> None:
    proc = loadtest_with_replicas(stubs, tmp_path, after_load="4", TAIL_S="4")
    assert proc.returncode == 1
    assert "still 4 replicas 4s after the load (minReplicas 2)" in proc.stderr
    assert (stubs.results / "k8s-loadtest" / "replicas.png").is_file()


@pytest.mark.slow
def test_loadtest_starts_only_once_the_hpa_is_back_at_min(stubs: Stubs, tmp_path: Path) -> None:
    # Pods left from an earlier load: 5 replicas, down to minReplicas 2 after 3 s.
    (tmp_path / "replicas").write_text("5")
    proc = subprocess.Popen(["bash", "-c", f"sleep 3; echo 2 >{tmp_path / 'replicas'}"])
    result = loadtest_with_replicas(stubs, tmp_path, after_load="2", before="5", TAIL_S="30")
    proc.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert "waiting for the HPA at rest: 5 replicas, 5 ready" in result.stdout
    rows = (stubs.results / "k8s-loadtest" / "hpa.csv").read_text().splitlines()[1:]
    assert "5" not in [r.split(",")[1] for r in rows], "the recording (and the load) started above minReplicas"


@pytest.mark.slow
def test_loadtest_says_when_the_hpa_never_comes_to_rest(stubs: Stubs, tmp_path: Path) -> None:
    result = loadtest_with_replicas(stubs, tmp_path, after_load="2", before="5", SETTLE_S="2")
    assert result.returncode == 1
    assert "the HPA is not at rest after 2s (5 replicas, 5 ready, CPU 70; minReplicas 2)" in result.stderr
    assert not stubs.calls("python -m loadtest run"), "the load ran anyway"


@pytest.mark.slow
@pytest.mark.parametrize("pins", ["", "minilm=1, digits=1"])
def test_rollout_runs_to_the_end(stubs: Stubs, tmp_path: Path, pins: str) -> None:
    # Under bash 3.2 (BASH32): no mapfile, and an empty array (no pins) is "unbound" under nounset.
    revision = tmp_path / "revision"
    revision.write_text("1")
    stubs.tool(
        "kubectl",
        f"""
        case "$*" in
            *"jsonpath"*"MODEL_SERVER_DEFAULT_VERSIONS"*) echo "{pins}" ;;
            *"deployment"*"revision"*) cat {revision} ;;
            *"get pods"*"-o name"*) printf 'pod/a\\npod/b\\n' ;;
            *"set env"*) echo 2 >{revision} ;;
        esac
        """,
    )
    stubs.tool(
        "python",
        f"""
        if [[ $1 == - ]]; then [[ $(cat {revision}) == 2 ]] && echo 2 || echo 1; exit 0; fi
        if [[ $1 == -m ]]; then
            while [[ $1 != --out ]]; do shift; done
            mkdir -p "$2" && echo '{{"total": {{"failures": 0}}}}' >"$2/summary.json"
            sleep 12
            exit 0
        fi
        exec {REAL_PYTHON} "$@"
        """,
    )
    proc = stubs.run("scripts/k8s-rollout.sh")
    assert proc.returncode == 0, proc.stderr
    assert "were answered by version 2" in proc.stdout
    set_env = [c for c in stubs.calls("kubectl") if " set env " in c]
    assert set_env and set_env[0].endswith("MODEL_SERVER_DEFAULT_VERSIONS=digits=2" + (",minilm=1" if pins else ""))
