#!/usr/bin/env bash
# Self-healing under load: a steady bounded load through the NodePort, one model-server pod deleted
# mid-run; reports the failed requests and the time until the Deployment has all its pods ready
# again. Exits non-zero when a request failed.
#
# Usage: scripts/k8s-chaos.sh   (env: USERS, DURATION, PYTHON, RESULTS, KUBECTL, KIND_CLUSTER)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

users=${USERS:-8}
duration=${DURATION:-60}
out=$RESULTS/k8s-chaos
need kind kubectl
need_cluster
kn rollout status "deployment/$DEPLOYMENT" --timeout 60s >/dev/null \
    || { echo "chaos: the deployment is not ready: make deploy" >&2; exit 1; }
mkdir -p "$out"
load_pid=""
trap '[[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true' EXIT
"$PYTHON" -m loadtest run --host "$TARGET" --profile digits --users "$users" --think-time 0.02 \
    --duration "$duration" --no-slo --out "$out" >"$out/load.log" 2>&1 &
load_pid=$!
sleep 10
want=$(kn get deployment "$DEPLOYMENT" -o jsonpath='{.spec.replicas}')
victim=$(victim_pod)
[[ -n $victim ]] || { echo "chaos: no model-server pod is Running, Ready and not terminating: make deploy" >&2; exit 1; }
echo "chaos: deleting pod $victim under load ($users users); the Deployment wants $want pods"
t0=$SECONDS
kn delete pod "$victim" --wait=false >/dev/null
# Recovered: the victim is gone and the Deployment has all its pods ready again.
until ! kn get pod "$victim" >/dev/null 2>&1 && (($(ready_pods) >= want)); do
    ((SECONDS - t0 < 180)) || { echo "chaos: not recovered after 180 s" >&2; exit 1; }
    sleep 1
done
recovered=$((SECONDS - t0))
wait "$load_pid" || true
load_pid=""
failed=$(failures_of "$out")
echo "chaos: recovered in ${recovered}s (pod deleted -> $want pods ready); failed requests: $failed (results in $out)"
((failed == 0))
