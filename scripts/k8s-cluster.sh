#!/usr/bin/env bash
# The kind cluster: `up` creates it from KIND_CONFIG (k8s/kind-cluster.yaml: 1 control-plane + 2 workers,
# NodePort 30080 on 127.0.0.1), installs metrics-server and waits until `kubectl top nodes` answers (the HPA
# needs it); `down` deletes it.
#
# The node image: KIND_NODE_IMAGE when set; else upstream's kindest/node (pinned by digest in
# k8s/node-image/versions.env) when Docker has it; else the air-gapped image `make kind-node-image` builds
# when Docker has that; else upstream's, pulled. metrics-server's image comes from the node image (the
# air-gapped one preloads it), from Docker (`make kind-node-image` builds it; kind loads it), or, online,
# from METRICS_SERVER_REGISTRY (the registry host that publishes it; this repository names none).
#
# Usage: scripts/k8s-cluster.sh up|down   (env: KIND, KUBECTL, KIND_CLUSTER, KIND_CONFIG, KIND_NODE_IMAGE,
#        METRICS_SERVER_REGISTRY)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"
# shellcheck source=k8s/node-image/versions.env
source "$here/../k8s/node-image/versions.env"
KIND_CONFIG=${KIND_CONFIG:-k8s/kind-cluster.yaml}
METRICS_SERVER_IMAGE=metrics-server/metrics-server:$METRICS_SERVER_VERSION

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The node image to create the cluster from, and why (see the header).
pick_node_image() {
    if [[ -n ${KIND_NODE_IMAGE:-} ]]; then
        node_image=$KIND_NODE_IMAGE reason="KIND_NODE_IMAGE"
    elif has_image "$KINDEST_NODE_IMAGE"; then
        node_image=$KINDEST_NODE_IMAGE reason="upstream's, present locally"
    elif has_image "$NODE_IMAGE"; then
        node_image=$NODE_IMAGE reason="air-gapped, present locally (make kind-node-image)"
    elif docker pull --quiet "$KINDEST_NODE_IMAGE" >/dev/null 2>&1; then
        node_image=$KINDEST_NODE_IMAGE reason="upstream's, pulled"
    else
        echo "cluster-up: no registry reachable and no node image here: 'make kind-node-image' builds one offline" >&2
        exit 1
    fi
}

# metrics-server's manifests with an image the nodes can run (see the header).
metrics_server_manifests() {
    local node
    # Read whole, then cut: `| head -n 1` would kill kind with SIGPIPE, a failure under pipefail.
    node=$("$KIND" get nodes --name "$KIND_CLUSTER")
    node=${node%%$'\n'*}
    if [[ -n ${METRICS_SERVER_REGISTRY:-} ]]; then
        k kustomize k8s/components/metrics-server | sed "s#image: metrics-server/#image: ${METRICS_SERVER_REGISTRY%/}/metrics-server/#"
        return
    fi
    if ! docker exec "$node" crictl inspecti "$METRICS_SERVER_IMAGE" >/dev/null 2>&1; then
        if ! has_image "$METRICS_SERVER_IMAGE"; then
            echo "cluster-up: $METRICS_SERVER_IMAGE is neither in the nodes nor in Docker: 'make kind-node-image'" \
                "builds it offline (or set METRICS_SERVER_REGISTRY to pull upstream's)" >&2
            exit 1
        fi
        echo "cluster-up: loading $METRICS_SERVER_IMAGE into the nodes" >&2
        "$KIND" load docker-image --name "$KIND_CLUSTER" "$METRICS_SERVER_IMAGE" >&2
    fi
    k kustomize k8s/components/metrics-server
}

case ${1:-} in
    up)
        need kind kubectl docker
        if cluster_exists; then
            echo "cluster-up: kind cluster $KIND_CLUSTER exists already"
        else
            pick_node_image
            echo "cluster-up: creating kind cluster $KIND_CLUSTER from $KIND_CONFIG with $node_image ($reason)"
            created=$SECONDS
            "$KIND" create cluster --name "$KIND_CLUSTER" --config "$KIND_CONFIG" --image "$node_image" --wait 180s
            echo "cluster-up: cluster created in $((SECONDS - created)) s"
        fi
        echo "cluster-up: installing metrics-server (k8s/components/metrics-server)"
        manifests=$(metrics_server_manifests)
        k apply --filename - <<<"$manifests" >/dev/null
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
