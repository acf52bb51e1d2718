#!/usr/bin/env bash
# Run one lab's steps end to end with the reference solution, then grade it with `python -m grader check`.
# This is what CI runs and what a learner runs to see the expected result of a lab.
#
# Usage: scripts/lab.sh NN        (00 .. 07; make lab-NN)
# Env:   PYTHON (default .venv/bin/python); QUICK=1 shorter loads and smaller matrices (CI; learners run the
#        full ones); RESULTS (default results): fresh measurements go to $RESULTS/labs/NN, never over the
#        committed reference results in labs/.
# Steps that need kind are skipped with the reason when kind or a cluster is missing; their offline
# counterparts (render, validate, the pod spec under Docker, the HPA what-if tool) run instead.
# A failing step stops the lab (errexit); the grade runs only after every step succeeded.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

: "${1:?usage: scripts/lab.sh NN (00-07)}"
python=${PYTHON:-.venv/bin/python}
[[ -x $python ]] || { echo "lab: $python not found: run 'make setup' first" >&2; exit 2; }
# The lab's id as the grader reads LAB (grader.spec.resolve: 2, 02, 02-containerize, labs/02-containerize).
resolve='import sys; from grader.spec import SpecError, resolve
try: print(resolve(sys.argv[1]).id)
except SpecError: sys.exit(3)'
lab=$("$python" -c "$resolve" "$1") || {
    (($? != 3)) || echo "lab: LAB must be a lab number 00-07 (or its folder name), got '$1'" >&2
    exit 2
}
quick=${QUICK:-}
out=${RESULTS:-results}/labs/$lab
tag=ahl-labs-$$

step_no=0
step() { step_no=$((step_no + 1)); printf '\n==> lab %s, step %d: %s\n' "$lab" "$step_no" "$*"; }
skip() { printf '    SKIPPED: %s\n' "$*"; }
free_port() { "$python" -c 'from loadtest.local_server import free_port; print(free_port())'; }

# kind and its cluster as the k8s scripts find them (scripts/k8s-lib.sh: KIND or .bin/kind; no SIGPIPE).
have_kind() {
    (source scripts/k8s-lib.sh && command -v "$KIND" >/dev/null 2>&1) \
        || { kind_reason="kind is not installed (https://kind.sigs.k8s.io, or make kind-node-image)"; return 1; }
    docker info >/dev/null 2>&1 || { kind_reason="no Docker engine answers"; return 1; }
    (source scripts/k8s-lib.sh && cluster_exists) \
        || { kind_reason="no kind cluster ${KIND_CLUSTER:-ai-hosting-labs}: run 'make cluster-up'"; return 1; }
}
have_docker() { docker info >/dev/null 2>&1; }

# A local model server on a free loopback port, stopped by its PID when the script ends.
server_pid=""
stop_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" && wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
start_server() {  # start_server LOG [server flags...]; SERVER_CPU=0 pins it to core 0 (taskset, Linux)
    local log=$1 deadline=$((SECONDS + 120)) pin=()
    shift
    [[ -z ${SERVER_CPU:-} ]] || ! command -v taskset >/dev/null || pin=(taskset -c "$SERVER_CPU")
    server_port=$(free_port)
    mkdir -p "$(dirname "$log")"
    ${pin[@]+"${pin[@]}"} "$python" -m model_server --host 127.0.0.1 --port "$server_port" --drain-seconds 0 "$@" >"$log" 2>&1 &
    server_pid=$!
    until curl --silent --fail --max-time 2 "http://127.0.0.1:$server_port/v2/health/ready" >/dev/null; do
        kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; echo "lab: the model server exited" >&2; exit 1; }
        ((SECONDS < deadline)) || { stop_server; echo "lab: the model server was not ready in 120 s ($log)" >&2; exit 1; }
        sleep 0.2
    done
    echo "    model server ready on http://127.0.0.1:$server_port (pid $server_pid, log $log)"
}

container=""
compose_project=""
cleanup() {
    stop_server
    [[ -z $container ]] || docker rm --force "$container" >/dev/null 2>&1 || true
    [[ -z $compose_project ]] || make --no-print-directory compose-down COMPOSE_PROJECT="$compose_project" >/dev/null 2>&1 || true
}
trap cleanup EXIT

lab_00() {
    step "make doctor: which tools are here (kind and kubectl are needed from lab 04 on)"
    if ! make --no-print-directory doctor; then
        echo "    make doctor reported a problem; labs 00, 01, 06 and 07 need only Python, 02-03 Docker, 04-05 kind"
    fi
}

lab_01() {
    step "start the model server (make serve does the same on 127.0.0.1:8000)"
    start_server "$out/server.log" --models digits,minilm
    step "run the client: v2 infer, v1 predict, where the time goes"
    "$python" labs/01-serve/client.py --url "http://127.0.0.1:$server_port" --requests 50
    step "read the batch size and request counters from /metrics"
    curl --silent "http://127.0.0.1:$server_port/metrics" | awk '/^model_server_(batch_size_count|requests_total)/ && n++ < 6'
    stop_server
}

lab_02() {
    have_docker || { step "Docker"; skip "no Docker engine answers: lab 02 needs one (make docker-engine)"; return; }
    step "make image: build the multi-stage, non-root image"
    make --no-print-directory image
    local image port
    image=${IMAGE:-ai-hosting-labs/model-server:$(git describe --always --dirty 2>/dev/null || echo dev)}  # as make does
    docker image ls "$image" --format '    image {{.Repository}}:{{.Tag}}  {{.Size}}'
    for cpus in 1 2; do
        step "make run CPUS=$cpus: the thread count follows the CPU quota"
        port=$(free_port)
        container=$tag-02
        make --no-print-directory run IMAGE="$image" CONTAINER="$container" PORT="$port" CPUS="$cpus"
        curl --silent "http://127.0.0.1:$port/metrics" | grep '^model_server_onnxruntime_intra_op_threads'
        docker exec "$container" id
        step "make stop: SIGTERM, drain, exit 0"
        make --no-print-directory stop CONTAINER="$container"
        container=""
    done
    step "make wheelhouse: the grader builds your Dockerfile offline from it"
    make --no-print-directory wheelhouse
}

lab_03() {
    have_docker || { step "Docker"; skip "no Docker engine answers: lab 03 needs one (make docker-engine)"; return; }
    compose_project=$tag
    local lb_port
    lb_port=$(free_port)
    if [[ -n $quick ]]; then
        step "make compose-up REPLICAS=2: two replicas behind nginx"
        make --no-print-directory compose-up REPLICAS=2 COMPOSE_PROJECT="$compose_project" LB_PORT="$lb_port"
        step "bounded load through the load balancer (QUICK: 5 s, no scaling curve)"
        "$python" -m loadtest run --host "http://127.0.0.1:$lb_port" --profile digits --users 4 --duration 5 \
            --no-slo --out "$out/lb"
    else
        step "make compose-scale: the same load at 1, 2 and 3 replicas"
        make --no-print-directory compose-scale COMPOSE_PROJECT="$compose_project" LB_PORT="$lb_port" RESULTS="$out"
        cat "$out/compose-scale/table.md"
        step "make rolling-restart: restart every replica under load, 0 failed requests"
        make --no-print-directory rolling-restart COMPOSE_PROJECT="$compose_project" LB_PORT="$lb_port" RESULTS="$out"
    fi
    make --no-print-directory compose-down COMPOSE_PROJECT="$compose_project" LB_PORT="$lb_port"
    compose_project=""
    grader_image
}

lab_04() {
    step "make k8s-check: render every overlay, validate strictly, run the policy checks (no cluster)"
    make --no-print-directory k8s-check
    if have_docker; then
        step "run the pod spec under Docker as the kubelet would (probes, preStop, SIGTERM)"
        make --no-print-directory k8s-podspec
    else
        step "pod spec under Docker"
        skip "no Docker engine answers"
    fi
    if have_kind; then
        step "make deploy: the image into kind, the kind overlay applied, rollout waited for"
        make --no-print-directory deploy
        if [[ -n $quick ]]; then
            step "make chaos and make rollout under load"
            skip "QUICK: the kind suite runs both, zero failed requests each (make test-kind)"
        else
            step "make chaos: delete a pod under load"
            make --no-print-directory chaos
            step "make rollout: model version 2 under load, zero failed requests"
            make --no-print-directory rollout
        fi
    else
        step "live cluster steps (deploy, chaos, rollout)"
        skip "$kind_reason; the offline steps above cover what can be checked without a cluster"
    fi
}

lab_05() {
    step "predict the replica timeline with the HPA what-if tool (regenerates labs/05-autoscale/prediction.json)"
    scripts/lab-predict.sh "$python" "$out/whatif"
    if have_kind; then
        step "make k8s-loadtest: the prediction's step-load.csv, open loop, through the NodePort; the HPA recorded until back at min"
        make --no-print-directory k8s-loadtest RESULTS="$out"
        step "the recording becomes labs/05-autoscale/observed.csv (graded against the prediction), and one plot"
        cp "$out/k8s-loadtest/hpa.csv" labs/05-autoscale/observed.csv
        "$python" labs/05-autoscale/compare.py --out "$out/compare.png"
    else
        step "live autoscaling on kind"
        skip "$kind_reason; the prediction above is the offline half of this lab"
    fi
}

lab_06() {
    local duration=30 trials=3
    [[ -z $quick ]] || { duration=8; trials=1; }
    step "start the model server pinned to core 0 (digits only)"
    SERVER_CPU=0 start_server "$out/server.log" --models digits
    step "load test against your SLO: ${duration} s x $trials trial(s), load generator on core 1"
    local pin=()
    command -v taskset >/dev/null && pin=(--cpus 1)  # no CPU affinity on macOS
    "$python" -m loadtest run --host "http://127.0.0.1:$server_port" --profile digits --users 8 \
        --duration "$duration" --trials "$trials" --warmup 2 ${pin[@]+"${pin[@]}"} \
        --slo labs/06-measure/slo.yaml --out "$out/results"
    stop_server
    echo "    fresh results in $out/results; the reference results graded below are in labs/06-measure/results"
}

lab_07() {
    step "the trade-off study"
    if [[ -n $quick ]]; then
        # The grader reads decision.md and the committed results, not a fresh table.
        skip "QUICK: the test suite runs the study's CI subset (tests/loadtest/test_tradeoffs.py)"
        return
    fi
    "$python" -m loadtest tradeoffs --out "$out/results"
    echo "    fresh table: $out/results/tradeoffs.md; decision.md quotes the reference table in labs/07-optimize/results"
}

# The image the grader's live checks run next to the learner's work (its client, its Compose stack).
grader_image=${GRADER_SERVER_IMAGE:-ai-hosting-labs/model-server:grader}
grader_image() {
    have_docker || return 0
    step "make image IMAGE=$grader_image: the server image the grader's live checks use"
    make --no-print-directory image IMAGE="$grader_image"
}

# The grader's verdict is the lab's: exit 0 PASSED, 1 NOT PASSED, 3 PARTIAL (nothing failed, but checks that need
# what this machine lacks, such as a kind cluster, could not run; the report names them and why).
grade() {
    local status=0
    step "grade: python -m grader check $lab"
    "$python" -m grader check "$lab" || status=$?
    return "$status"
}

declare -F "lab_$lab" >/dev/null || { echo "lab: there is no lab $lab (00-07)" >&2; exit 2; }
"lab_$lab"
grade
