#!/usr/bin/env bash
# A bounded Locust step load (4 steps up to USERS) through the NodePort, never port-forward (that
# pins one pod), with the HPA recorded alongside; the results folder holds summary.json, the charts
# and replicas.png (replicas over time next to latency and throughput), plus hpa.csv.
#
# Usage: scripts/k8s-loadtest.sh   (env: USERS, DURATION, PYTHON, RESULTS, KUBECTL, KIND_CLUSTER)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

users=${USERS:-40}
duration=${DURATION:-240}
out=$RESULTS/k8s-loadtest
need kind kubectl
need_cluster
curl --silent --fail --max-time 5 "$TARGET/v2/health/ready" >/dev/null \
    || { echo "k8s-loadtest: nothing ready on $TARGET: make cluster-up deploy" >&2; exit 1; }
mkdir -p "$out"
watch_pid=""
trap '[[ -z $watch_pid ]] || kill "$watch_pid" 2>/dev/null || true' EXIT
# Watch a minute past the load: the scale-down is part of the story.
"$here/k8s-hpa-watch.sh" "$out/hpa.csv" $((duration + 90)) 5 2>"$out/hpa-watch.log" &
watch_pid=$!
echo "k8s-loadtest: step load to $users users for ${duration}s on $TARGET; HPA -> $out/hpa.csv"
"$PYTHON" -m loadtest run --host "$TARGET" --profile digits --shape step --users "$users" \
    --duration "$duration" --no-slo --replicas "$out/hpa.csv" --out "$out"
echo "k8s-loadtest: load done; recording the scale-down for 90 s more"
wait "$watch_pid" || true
watch_pid=""
echo "k8s-loadtest: max replicas $(cut -d, -f2 "$out/hpa.csv" | tail -n +2 | sort -n | tail -1); results in $out"
