#!/usr/bin/env bash
# A rolling update under load with zero failed requests: a steady bounded load through the NodePort on
# digits version 2 (the int8 model), while the Deployment rolls to ROLLOUT_IMAGE (default: IMAGE; a
# new tag after you rebuilt it) and a new pod-template revision, one surge pod at a time
# (maxUnavailable 0, readiness gates, preStop + drain on the old pods). Exits non-zero on any failure.
#
# Usage: scripts/k8s-rollout.sh   (env: IMAGE, ROLLOUT_IMAGE, USERS, DURATION, PYTHON, RESULTS, KIND, KUBECTL)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

image=${ROLLOUT_IMAGE:-${IMAGE:?IMAGE is not set (make rollout sets it)}}
users=${USERS:-8}
duration=${DURATION:-120}
out=$RESULTS/k8s-rollout
need kind kubectl docker
need_cluster
[[ $image == *:* && ${image##*:} != latest ]] || { echo "rollout: $image: use a pinned tag, never :latest" >&2; exit 1; }
"$KIND" load docker-image "$image" --name "$KIND_CLUSTER" >/dev/null
mkdir -p "$out"
load_pid=""
trap '[[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true' EXIT
"$PYTHON" -m loadtest run --host "$TARGET" --profile digits --model-version 2 --users "$users" \
    --think-time 0.02 --duration "$duration" --no-slo --out "$out" >"$out/load.log" 2>&1 &
load_pid=$!
sleep 10
echo "rollout: rolling deployment/$DEPLOYMENT to $image (digits version 2) under load"
t0=$SECONDS
kn set image "deployment/$DEPLOYMENT" "model-server=$image" >/dev/null
# A new revision even when the image is unchanged: the rollout itself is what is tested.
kn patch deployment "$DEPLOYMENT" --type merge \
    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"ai-hosting-labs/rollout\":\"$(date +%s)\"}}}}}" >/dev/null
kn rollout status "deployment/$DEPLOYMENT" --timeout 300s
echo "rollout: done in $((SECONDS - t0))s; waiting for the load to finish"
wait "$load_pid" || true
load_pid=""
failed=$(failures_of "$out")
echo "rollout: failed requests during the rollout: $failed (results in $out)"
((failed == 0))
