#!/usr/bin/env bash
# The kind cluster: `up` creates it from k8s/kind-cluster.yaml (1 control-plane + 2 workers, NodePort
# 30080 on 127.0.0.1), installs metrics-server and waits until `kubectl top nodes` answers (the HPA
# needs it); `down` deletes it.
#
# Usage: scripts/k8s-cluster.sh up|down   (env: KIND, KUBECTL, KIND_CLUSTER, KIND_NODE_IMAGE,
#        METRICS_SERVER_REGISTRY: the registry host that publishes metrics-server; this repository names none)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

case ${1:-} in
    up)
        need kind kubectl docker
        if [[ -z ${METRICS_SERVER_REGISTRY:-} ]]; then
            echo "cluster-up: set METRICS_SERVER_REGISTRY to the registry host that publishes metrics-server" \
                "(its README on GitHub, kubernetes-sigs/metrics-server, names it), e.g." \
                "make cluster-up METRICS_SERVER_REGISTRY=<host>" >&2
            exit 2
        fi
        if cluster_exists; then
            echo "cluster-up: kind cluster $KIND_CLUSTER exists already"
        else
            echo "cluster-up: creating kind cluster $KIND_CLUSTER (1 control-plane, 2 workers; a few minutes the first time)"
            "$KIND" create cluster --name "$KIND_CLUSTER" --config k8s/kind-cluster.yaml \
                ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s
        fi
        echo "cluster-up: installing metrics-server (k8s/components/metrics-server)"
        k kustomize k8s/components/metrics-server \
            | sed "s#image: metrics-server/#image: ${METRICS_SERVER_REGISTRY%/}/metrics-server/#" \
            | k apply --filename - >/dev/null
        k --namespace kube-system rollout status deployment/metrics-server --timeout 180s
        start=$SECONDS
        until k top nodes >/dev/null 2>&1; do
            if ((SECONDS - start > 180)); then
                echo "cluster-up: 'kubectl top nodes' still fails after 180 s: 'make doctor' says why" >&2
                exit 1
            fi
            sleep 5
        done
        k top nodes
        echo "cluster-up: ready in $((SECONDS - start)) s after metrics-server. Next: make deploy"
        ;;
    down)
        need kind
        "$KIND" delete cluster --name "$KIND_CLUSTER"
        ;;
    *)
        echo "usage: scripts/k8s-cluster.sh up|down" >&2
        exit 2
        ;;
esac
