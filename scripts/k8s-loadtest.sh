#!/usr/bin/env bash
# Lab 05's live run: an open-loop load along LOAD (a t,rps CSV; by default labs/05-autoscale/step-load.csv, the
# profile the HPA what-if tool predicts with) through the NodePort, never port-forward (that pins one pod), with
# the HPA recorded alongside until it is back at minReplicas after the load (at most TAIL_S more). replicas.png is
# drawn once that recording has stopped. The results folder holds summary.json, the charts, hpa.csv and replicas.png.
#
# Usage: scripts/k8s-loadtest.sh   (env: LOAD, USERS, SETTLE_S, TAIL_S, INTERVAL, PYTHON, RESULTS, KIND, KUBECTL, KIND_CLUSTER)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

load=${LOAD:-labs/05-autoscale/step-load.csv}
# Users at the profile's peak: 1.25 rps each at 360 rps (16 users carry 20 rps). A user has one request in flight,
# so its 800 ms slot must outlast slow answers: at 400 ms slots a run here sent 224 of 240 rps (p95 388 ms).
users=${USERS:-288}
# After the load: up to ~60 s before the CPU drop shows in metrics-server (kubelet's window, 15 s resolution), a
# 15 s sync, the 60 s scale-down stabilization, 6 -> 3 -> 2 at most 50% per 30 s, and two syncs of margin: ~210 s.
tail_s=${TAIL_S:-240}
interval=${INTERVAL:-5}
out=$RESULTS/k8s-loadtest
need kind kubectl
need_cluster
curl --silent --fail --max-time 5 "$TARGET/v2/health/ready" >/dev/null \
    || { echo "k8s-loadtest: nothing ready on $TARGET: make cluster-up deploy" >&2; exit 1; }
min=$(kn get hpa "$DEPLOYMENT" -o jsonpath='{.spec.minReplicas}')
min=${min:-1}
# The prediction starts at minReplicas with the HPA reading CPU: a run that starts with pods left from an earlier
# load, or before metrics-server has a sample, peaks early or late. Wait for that start (bounded by SETTLE_S).
settle_s=${SETTLE_S:-420}
settle_start=$SECONDS
said=-1
while :; do
    IFS=, read -r _ replicas _ _ ready cpu < <(hpa_row)
    ((replicas != min || ready != min)) || [[ -z $cpu ]] || break
    waited=$((SECONDS - settle_start))
    if ((waited >= settle_s)); then
        echo "k8s-loadtest: the HPA is not at rest after ${settle_s}s ($replicas replicas, $ready ready, CPU" \
            "${cpu:-<unknown>}; minReplicas $min): see 'kubectl -n $NAMESPACE describe hpa $DEPLOYMENT' and make doctor" >&2
        exit 1
    fi
    if ((waited / 30 != said)); then
        said=$((waited / 30))
        echo "k8s-loadtest: waiting for the HPA at rest: $replicas replicas, $ready ready, CPU ${cpu:-<unknown>}" \
            "(want $min, $min, a reading; ${waited}s of at most ${settle_s}s)"
    fi
    sleep "$interval"
done
mkdir -p "$out"
rm -f "$out/hpa.csv" "$out/replicas.png"
watch_pid=""
trap '[[ -z $watch_pid ]] || kill "$watch_pid" 2>/dev/null || true' EXIT
# Bounded by the longest `loadtest run` plus the tail; stopped below once the scale-down is recorded.
"$here/k8s-hpa-watch.sh" "$out/hpa.csv" $((3600 + tail_s)) "$interval" 2>"$out/hpa-watch.log" &
watch_pid=$!
echo "k8s-loadtest: open loop along $load ($users users at its peak) on $TARGET; HPA -> $out/hpa.csv"
# A new connection every 10 requests (8 s a user): the Service balances connections, so the pods the HPA adds
# get their share within seconds, as the what-if tool assumes (load spread evenly over ready pods).
"$PYTHON" -m loadtest run --host "$TARGET" --profile digits --load "$load" --users "$users" --reconnect-every 10 \
    --no-slo --out "$out"
load_end=$(date +%s)
tail_start=$SECONDS

# The last row recorded, as "epoch replicas" ("0 0" before the first row).
last_row() {
    local at=0 replicas=0
    [[ ! -s $out/hpa.csv ]] || IFS=, read -r at replicas _ < <(tail -n 1 "$out/hpa.csv")
    [[ $at =~ ^[0-9]+$ && $replicas =~ ^[0-9]+$ ]] || at=0 replicas=0
    echo "$at $replicas"
}
echo "k8s-loadtest: load done; recording until the HPA is back at $min replicas (at most ${tail_s}s more)"
scaled_down=""
while ((SECONDS - tail_start <= tail_s)); do
    read -r at replicas < <(last_row)
    if ((at >= load_end && replicas <= min)); then
        scaled_down=1
        break
    fi
    sleep 1
done
kill -TERM "$watch_pid" 2>/dev/null || true
wait "$watch_pid" || true
watch_pid=""
"$PYTHON" -m loadtest replicas-chart "$out" --replicas "$out/hpa.csv" >/dev/null
peak=$(cut -d, -f2 "$out/hpa.csv" | tail -n +2 | sort -n | tail -n 1)
if [[ -z $scaled_down ]]; then
    echo "k8s-loadtest: still $replicas replicas ${tail_s}s after the load (minReplicas $min): see $out/hpa.csv," \
        "'kubectl -n $NAMESPACE describe hpa $DEPLOYMENT' and make doctor" >&2
    exit 1
fi
echo "k8s-loadtest: peak $peak replicas, back at $min $((at - load_end)) s after the load; results in $out"
