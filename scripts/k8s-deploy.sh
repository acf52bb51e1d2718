#!/usr/bin/env bash
# Deploy the model server to the kind cluster: `kind load docker-image IMAGE` (the nodes never pull),
# render k8s/overlays/kind with IMAGE's tag (a temporary overlay on top of it, in a copy of k8s/:
# the committed overlay keeps its `dev` tag and is never :latest), apply, wait for the rollout.
#
# Usage: scripts/k8s-deploy.sh   (env: IMAGE, KIND, KUBECTL, KIND_CLUSTER)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

image=${IMAGE:?IMAGE is not set (make deploy sets it)}
tag=${image##*:}
if [[ $image != *:* || $tag == latest ]]; then
    echo "deploy: IMAGE=$image: use a pinned tag, never :latest (make image tags it with git describe)" >&2
    exit 1
fi
need kind kubectl docker
need_cluster
docker image inspect "$image" >/dev/null 2>&1 || { echo "deploy: image $image is not built: make image" >&2; exit 1; }

echo "deploy: loading $image into the kind nodes"
"$KIND" load docker-image "$image" --name "$KIND_CLUSTER"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r k8s "$work/k8s"
mkdir "$work/k8s/overlays/deploy"
cat >"$work/k8s/overlays/deploy/kustomization.yaml" <<YAML
resources: [../kind]
images:
  - name: ai-hosting-labs/model-server
    newName: ${image%:*}
    newTag: "$tag"
YAML
k apply --kustomize "$work/k8s/overlays/deploy"
if ! kn rollout status "deployment/$DEPLOYMENT" --timeout 300s; then
    echo "deploy: the rollout did not finish; 'make doctor' and 'kubectl -n $NAMESPACE describe pods' say why" >&2
    exit 1
fi
kn get deployment,hpa,pods -o wide
echo "deploy: serving on $TARGET (NodePort $NODE_PORT). Try: curl $TARGET/v2/models/digits"
