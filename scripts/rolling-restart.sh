#!/usr/bin/env bash
# Zero-downtime restart: under a steady, bounded load through the lb, restart the model-server
# replicas one at a time with SIGTERM (each drains: readiness 503, keeps serving, finishes in-flight
# requests, exits 0), waiting for each to be healthy again before the next. Reports the failed
# requests of the whole run and exits non-zero unless there were none.
#
# A stack that is already up (`make compose-up`, same COMPOSE_PROJECT) is used as it is and left up:
# its replicas are restarted, nothing is scaled or removed. Otherwise the script starts REPLICAS
# replicas itself and removes them at the end (it says so first; KEEP=1 leaves them up).
#
# Usage: scripts/rolling-restart.sh [REPLICAS]   (env: IMAGE, PYTHON, RESULTS, USERS, KEEP=1)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/docker-lib.sh
source "$here/docker-lib.sh"

replicas=${1:-2}
((replicas >= 2)) || { echo "rolling-restart: needs at least 2 replicas (got $replicas)" >&2; exit 2; }
python=${PYTHON:-.venv/bin/python}
out=${RESULTS:-results}/rolling-restart
users=${USERS:-8}

load_pid=""
started_here=""
cleanup() {
    [[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true
    if [[ -n $started_here && -z ${KEEP:-} ]]; then
        echo "rolling-restart: removing the stack it started (project $COMPOSE_PROJECT)"
        "$here/compose.sh" down >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

if project_exists; then
    ids=(); while IFS= read -r id; do ids+=("$id"); done < <(project_containers model-server | sort)
    if ((${#ids[@]} < 2)); then
        echo "rolling-restart: your stack (project $COMPOSE_PROJECT) has ${#ids[@]} replica(s); a rolling restart needs 2 or more: 'make compose-up REPLICAS=2'" >&2
        exit 2
    fi
    echo "rolling-restart: using your running stack (project $COMPOSE_PROJECT, ${#ids[@]} replicas); it stays up afterwards"
    wait_healthy 60
else
    echo "rolling-restart: no stack is up (project $COMPOSE_PROJECT): starting $replicas replicas; they are removed at the end (KEEP=1 keeps them)"
    started_here=1
    "$here/compose.sh" up "$replicas"
    ids=(); while IFS= read -r id; do ids+=("$id"); done < <(project_containers model-server | sort)
fi
address=$(lb_address) || { echo "rolling-restart: the stack has no lb container publishing port 8080" >&2; exit 1; }
# Load before the first restart, ~15 s per replica (drain + start + warm-up + health), load after.
duration=$((10 + 15 * ${#ids[@]}))

ip_of() { docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
health_of() { docker inspect --format '{{.State.Health.Status}}' "$1"; }

rm -rf "$out"
mkdir -p "$out"
echo "rolling-restart: ${duration}s of steady load ($users users, digits) on http://$address; log: $out/load.log"
"$python" -m loadtest run --host "http://$address" --profile digits --users "$users" \
    --think-time 0.02 --duration "$duration" --no-slo --out "$out" >"$out/load.log" 2>&1 &
load_pid=$!
sleep 5

restart_start=$SECONDS
for id in "${ids[@]}"; do
    name=$(docker inspect --format '{{.Name}}' "$id")
    name=${name#/}
    before=$(ip_of "$id")
    t0=$SECONDS
    # docker restart = SIGTERM (the image's stop signal), wait up to 30 s for the drain, then start.
    docker restart -t 30 "$id" >/dev/null
    until [[ $(health_of "$id") == healthy ]]; do
        [[ $(health_of "$id") != unhealthy ]] || { echo "rolling-restart: $name is unhealthy" >&2; exit 1; }
        ((SECONDS - t0 < 120)) || { echo "rolling-restart: $name not healthy after 120 s" >&2; exit 1; }
        sleep 0.2
    done
    # nginx resolved the replica's address at start: re-resolve only if the restart changed it.
    if [[ $(ip_of "$id") != "$before" ]]; then reload_lb; fi
    echo "rolling-restart: $name drained, restarted and healthy again in $((SECONDS - t0))s"
done
echo "rolling-restart: all ${#ids[@]} replicas restarted in $((SECONDS - restart_start))s; waiting for the load to finish"

load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
if ((load_status != 0)); then
    echo "rolling-restart: the load run reported a problem:" >&2
    tail -n 20 "$out/load.log" >&2
fi
"$python" - "$out/summary.json" <<'EOF'
import json, sys
total = json.load(open(sys.argv[1]))["total"]
print(f"rolling-restart: {total['requests']} requests, {total['failures']} failed "
      f"({total['ok_rps']:.0f} ok/s, p99 {total['latency_ms']['p99']:.0f} ms); errors: {total['errors'] or 'none'}")
sys.exit(1 if total["failures"] or not total["requests"] else 0)
EOF
