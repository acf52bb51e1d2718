#!/usr/bin/env bash
# shellcheck disable=SC2034  # variables set here are read by the scripts that source this file
# Shared helpers for the container scripts (sourced, not run): which build path, which Compose,
# and waiting for a Compose project's containers to be healthy.
# Callers set: errexit, nounset, pipefail.

ONLINE_BASE_IMAGE=${ONLINE_BASE_IMAGE:-python:3.11-slim}
OFFLINE_BASE_IMAGE=${OFFLINE_BASE_IMAGE:-ai-hosting-labs/python-base:bookworm-3.11}
COMPOSE_PROJECT=${COMPOSE_PROJECT:-ai-hosting-labs}
LB_PORT=${LB_PORT:-8080}

# Run a command, stopped (SIGTERM) after SECONDS: GNU `timeout` is not on macOS. The watchdog's output goes
# nowhere, so $(run_bounded ...) never waits for it; it kills its own sleep when it is told to stop.
run_bounded() {
    local seconds=$1 pid watchdog status=0
    shift
    "$@" &
    pid=$!
    (
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        sleep "$seconds" &
        sleeper=$!
        wait "$sleeper" && kill "$pid" 2>/dev/null
    ) >/dev/null 2>&1 &
    watchdog=$!
    wait "$pid" || status=$?
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
    return "$status"
}

# Sets BUILD_PATH (online|offline) and BUILD_REASON. Offline when OFFLINE=1 or no registry answers.
pick_build_path() {
    local why
    if [[ ${OFFLINE:-} == 1 ]]; then
        BUILD_PATH=offline BUILD_REASON="OFFLINE=1"
    elif docker image inspect "$ONLINE_BASE_IMAGE" >/dev/null 2>&1; then
        BUILD_PATH=online BUILD_REASON="$ONLINE_BASE_IMAGE is present locally"
    elif why=$(run_bounded 60 docker pull --quiet "$ONLINE_BASE_IMAGE" 2>&1 >/dev/null); then
        BUILD_PATH=online BUILD_REASON="pulled $ONLINE_BASE_IMAGE"
    else
        why=${why:-stopped after 60 s}
        BUILD_PATH=offline BUILD_REASON="no registry reachable (pulling $ONLINE_BASE_IMAGE failed: ${why##*$'\n'})"
    fi
}

# The base image for the path picked, building the offline one (cached) when needed. That build is debootstrap
# on Linux: elsewhere (macOS) say so rather than fail on a missing tool.
base_image_for_path() {
    if [[ $BUILD_PATH == offline ]]; then
        if [[ $(uname -s) != Linux ]] && ! docker image inspect "$OFFLINE_BASE_IMAGE" >/dev/null 2>&1; then
            echo "docker-image: offline path ($BUILD_REASON), but its base image is built with debootstrap on Linux only:" \
                "check that Docker can pull $ONLINE_BASE_IMAGE, or 'docker load' $OFFLINE_BASE_IMAGE saved on Linux" >&2
            return 1
        fi
        "$(dirname "${BASH_SOURCE[0]}")/base-image.sh" "$OFFLINE_BASE_IMAGE" >&2
        echo "$OFFLINE_BASE_IMAGE"
    else
        echo "$ONLINE_BASE_IMAGE"
    fi
}

# `docker compose` (v2) where present, else `docker-compose` (v1.29, Debian's package).
compose() {
    if [[ -z ${COMPOSE_CMD:-} ]]; then
        if docker compose version >/dev/null 2>&1; then
            COMPOSE_CMD="docker compose"
        elif command -v docker-compose >/dev/null 2>&1; then
            COMPOSE_CMD="docker-compose"
        else
            echo "compose: neither 'docker compose' nor 'docker-compose' found: apt-get install docker-compose (or scripts/ci-docker.sh)" >&2
            return 1
        fi
    fi
    # shellcheck disable=SC2086  # COMPOSE_CMD is one or two words
    $COMPOSE_CMD --project-name "$COMPOSE_PROJECT" --file docker-compose.yml "$@"
}

# IDs of this project's containers (optionally of one service), running or not.
project_containers() {
    local filters=(--filter "label=com.docker.compose.project=$COMPOSE_PROJECT")
    [[ -n ${1:-} ]] && filters+=(--filter "label=com.docker.compose.service=$1")
    docker ps --all --quiet "${filters[@]}"
}

# True when the project has containers (running or not): a stack someone brought up.
project_exists() { [[ -n $(project_containers) ]]; }

# Wait until every container of the project that has a healthcheck is healthy (timeout in s);
# prints how many are healthy every 5 s while it waits.
wait_healthy() {
    local timeout=${1:-180} start=$SECONDS next=5 id status pending total
    while true; do
        pending=0 total=0
        for id in $(project_containers); do
            total=$((total + 1))
            status=$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
            case $status in
                "running healthy" | "running none") ;;
                "running starting") pending=$((pending + 1)) ;;
                *)
                    echo "compose: $(docker inspect --format '{{.Name}}' "$id") is $status" >&2
                    docker logs --tail 20 "$id" >&2
                    return 1
                    ;;
            esac
        done
        ((pending == 0)) && return 0
        if ((SECONDS - start > timeout)); then
            echo "compose: containers not healthy after ${timeout}s" >&2
            return 1
        fi
        if ((SECONDS - start >= next)); then
            echo "compose: $((total - pending))/$total containers healthy after $((SECONDS - start))s (models load and warm up)"
            next=$((next + 5))
        fi
        sleep 0.5
    done
}

# host:port the project's lb publishes (the stack may have been started with another LB_PORT).
# First lines are cut from whole outputs: `... | head -n 1` under pipefail fails when head exits first (SIGPIPE).
lb_address() {
    local id address
    id=$(project_containers lb)
    [[ -n $id ]] || return 1
    address=$(docker port "${id%%$'\n'*}" 8080/tcp)
    echo "${address%%$'\n'*}"
}

# A free TCP port on 127.0.0.1 (for a stack of our own next to one the user runs).
free_port() {
    "${PYTHON:-.venv/bin/python}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nginx's worker processes in an lb container (their PIDs, from the process titles nginx sets).
lb_workers() {
    # (grep fails on a process that ends while it reads: what it found still counts)
    docker exec "$1" sh -c 'grep -l "nginx: worker proces[s]" /proc/[0-9]*/cmdline 2>/dev/null; true' | cut -d/ -f3
}

# nginx resolves the model-server name at start and on reload: reload after replicas change.
# A reload (SIGHUP) is asynchronous: the old workers finish what they hold and exit, and one may close a connection
# it has just accepted without an answer. So wait until the old workers are gone (30 s at most: a request still
# in flight keeps its worker), and the next request meets the new ones.
reload_lb() {
    local id old left deadline
    for id in $(project_containers lb); do
        old=$(lb_workers "$id" | tr '\n' ' ')
        docker kill --signal HUP "$id" >/dev/null
        deadline=$((SECONDS + 30))
        while :; do
            # shellcheck disable=SC2086  # one argument per PID
            left=$(docker exec "$id" sh -c 'for pid; do [ ! -d "/proc/$pid" ] || echo "$pid"; done' sh $old)
            [[ -z $left ]] && break
            if ((SECONDS >= deadline)); then
                echo "compose: the lb's old workers ($left) still run 30 s after its reload; going on" >&2
                break
            fi
            sleep 0.2
        done
    done
}
