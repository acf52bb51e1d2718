#!/usr/bin/env bash
# Record the HPA every INTERVAL seconds for SECONDS seconds, as CSV:
#   time,replicas,desired,current,ready,cpu_utilization
# (epoch seconds; replicas = the HPA's current replicas, desired = its recommendation, ready = ready
# pods of the Deployment, cpu_utilization = % of the CPU request, empty while <unknown>).
# `python -m loadtest replicas-chart RESULTS --replicas FILE` charts it next to a run (make k8s-loadtest does that).
#
# Usage: scripts/k8s-hpa-watch.sh OUT.csv SECONDS [INTERVAL]   (env: KUBECTL, KIND_CLUSTER); SIGTERM ends it early.
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

out=${1:?usage: scripts/k8s-hpa-watch.sh OUT.csv SECONDS [INTERVAL]}
seconds=${2:?seconds}
interval=${3:-5}
need kind kubectl
need_cluster
mkdir -p "$(dirname "$out")"
echo "time,replicas,desired,current,ready,cpu_utilization" >"$out"
end=$((SECONDS + seconds))
# SIGTERM/SIGINT stop it after the row it is writing (bash runs the trap once the current command is done).
stop=""
trap 'stop=1' TERM INT
while ((SECONDS < end)) && [[ -z $stop ]]; do
    row=$(hpa_row)
    echo "$row" >>"$out"
    echo "hpa-watch: $row" >&2
    sleep "$interval"
done
echo "hpa-watch: $(($(wc -l <"$out") - 1)) rows in $out" >&2
