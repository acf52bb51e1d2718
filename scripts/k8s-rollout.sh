#!/usr/bin/env bash
# A model rollout under load with zero failed requests. The Deployment pins the digits version that answers
# requests naming none (MODEL_SERVER_DEFAULT_VERSIONS=digits=1, the fp32 model, in k8s/base/deployment.yaml);
# this sets digits=DIGITS_VERSION (default 2, the int8 model): a new pod template, so a new ReplicaSet, rolled out
# one surge pod at a time (maxUnavailable 0, readiness gates, preStop + drain on the old pods) while a
# bounded load sends unversioned digits requests through the NodePort. Then it checks that no request
# failed, that the Deployment has a new revision, and that once the old pods are gone every answer comes
# from the new version (the v2 infer response's model_version). Exits non-zero on any failure.
#
# Usage: scripts/k8s-rollout.sh   (env: DIGITS_VERSION, USERS, DURATION, PYTHON, RESULTS, KIND, KUBECTL, KIND_CLUSTER)
# Roll back the same way: make rollout DIGITS_VERSION=1 (make deploy also puts version 1 back).
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/k8s-lib.sh
source "$here/k8s-lib.sh"

to=${DIGITS_VERSION:-2}
users=${USERS:-8}
duration=${DURATION:-150}
samples=30
out=$RESULTS/k8s-rollout
label=app.kubernetes.io/name=model-server
need kind kubectl
need_cluster
kn rollout status "deployment/$DEPLOYMENT" --timeout 60s >/dev/null \
    || { echo "rollout: the deployment is not ready: make deploy" >&2; exit 1; }

# The versions that answer $1 unversioned digits requests through the NodePort, e.g. "1" or "1 2". A new
# connection each time, so kube-proxy spreads them over the pods.
answering() {
    "$PYTHON" - "$TARGET" "$1" <<'PY'
import json
import sys
import urllib.request

from loadtest.payloads import digits_v2_body

url, count = f"{sys.argv[1]}/v2/models/digits/infer", int(sys.argv[2])
body = json.dumps(digits_v2_body([[0.0] * 64])).encode()
seen = set()
try:
    for _ in range(count):
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            seen.add(json.load(response)["model_version"])
except (OSError, ValueError, KeyError) as exc:  # HTTPError and URLError are OSErrors
    sys.exit(f"rollout: POST {url}: {exc}")
print(" ".join(sorted(seen)))
PY
}

before=$(answering 10)
if [[ " $before " == *" $to "* ]]; then
    echo "rollout: digits already answers with version $before: choose another (make rollout DIGITS_VERSION=1 rolls back), or 'make deploy' (version 1, and an image that reads MODEL_SERVER_DEFAULT_VERSIONS)" >&2
    exit 1
fi
# digits=DIGITS_VERSION, keeping any other model's pin.
pins=$(kn get deployment "$DEPLOYMENT" \
    -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="MODEL_SERVER_DEFAULT_VERSIONS")].value}')
new="digits=$to"
IFS=, read -ra items <<<"$pins"
# ${a[@]+"${a[@]}"}: an empty array is "unbound" under nounset in bash < 4.4 (macOS ships 3.2).
for item in ${items[@]+"${items[@]}"}; do
    name=${item%%=*}
    [[ $item != *=* || ${name// /} == digits ]] || new+=",$item"
done
revision() { kn get deployment "$DEPLOYMENT" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'; }
old_revision=$(revision)
old_pods=()  # a read loop, not mapfile: bash 3.2 has none
while IFS= read -r pod; do old_pods+=("$pod"); done < <(kn get pods -l "$label" -o name)

mkdir -p "$out"
load_pid=""
trap '[[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true' EXIT
"$PYTHON" -m loadtest run --host "$TARGET" --profile digits --users "$users" \
    --think-time 0.02 --duration "$duration" --no-slo --out "$out" >"$out/load.log" 2>&1 &
load_pid=$!
sleep 10
echo "rollout: digits answers with version $before; MODEL_SERVER_DEFAULT_VERSIONS ${pins:-(unset)} -> $new under load ($users users)"
t0=$SECONDS
kn set env "deployment/$DEPLOYMENT" "MODEL_SERVER_DEFAULT_VERSIONS=$new" >/dev/null
kn rollout status "deployment/$DEPLOYMENT" --timeout 300s
took=$((SECONDS - t0))
kill -0 "$load_pid" 2>/dev/null \
    || { echo "rollout: the load ended before the rollout did (${took}s): raise DURATION (now $duration), or see $out/load.log" >&2; exit 1; }
echo "rollout: done in ${took}s (revision $old_revision -> $(revision)); waiting for the load to finish"
wait "$load_pid" || true
load_pid=""
[[ $(revision) != "$old_revision" ]] || { echo "rollout: no new revision: the pod template did not change" >&2; exit 1; }
failed=$(failures_of "$out")
echo "rollout: failed requests during the rollout: $failed (results in $out)"
((failed == 0))

# The old pods drain (preStop + the server's drain) after the rollout counts them gone; ask once they are
# (within terminationGracePeriodSeconds, 30 s, plus a margin).
t1=$SECONDS
until ((${#old_pods[@]} == 0)) || [[ -z $(kn get "${old_pods[@]}" --ignore-not-found -o name) ]]; do
    ((SECONDS - t1 < 90)) || { echo "rollout: old pods still terminating after 90 s: ${old_pods[*]}" >&2; exit 1; }
    sleep 2
done
after=$(answering "$samples")
echo "rollout: after the rollout, $samples unversioned digits requests were answered by version $after"
[[ $after == "$to" ]] || { echo "rollout: expected version $to alone to answer; an image older than MODEL_SERVER_DEFAULT_VERSIONS ignores it: make deploy" >&2; exit 1; }
