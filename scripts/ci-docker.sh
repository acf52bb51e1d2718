#!/usr/bin/env bash
# Provision a Docker engine on a Debian machine (CI, a fresh VM, a learner's Linux box).
# Idempotent: installs Debian's docker.io, debootstrap and (when `docker compose` v2 is absent)
# docker-compose v1 only when missing, starts dockerd only when no engine answers, then waits.
# Fast path: an engine that already answers `docker info` costs one call.
#
# Build machines only: when a privileged container cannot start because the machine's capability
# bounding set lacks CAP_SYS_RESOURCE (some CI sandboxes), registers scripts/runc-drop-sys-resource
# as Docker's default runtime (kind nodes are privileged containers). A working engine is left alone.
#
# Usage: scripts/ci-docker.sh            (env: DOCKERD_LOG, DOCKERD_OPTS, DOCKER_WAIT_S)
set -o errexit -o nounset -o pipefail

log=${DOCKERD_LOG:-/tmp/ai-hosting-labs-dockerd.log}
wait_s=${DOCKER_WAIT_S:-60}

say() { printf 'ci-docker: %s\n' "$*"; }
die() { printf 'ci-docker: error: %s\n' "$*" >&2; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }
has_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }

install_missing() {
    local pkgs=()
    command -v dockerd >/dev/null 2>&1 || pkgs+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || pkgs+=(debootstrap)
    has_compose || pkgs+=(docker-compose)
    ((${#pkgs[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get: install Docker for your OS (docs.docker.com/engine/install)"
    local sudo=""
    ((EUID == 0)) || sudo="sudo"
    say "installing ${pkgs[*]} from Debian's packages"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# Start dockerd with the given extra options; true once `docker info` answers.
try_start() {
    say "starting dockerd${*:+ $*} (log: $log)"
    # setsid: the daemon outlives this script and the make/CI step that called it.
    setsid dockerd "$@" >>"$log" 2>&1 </dev/null &
    local pid=$! deadline=$((SECONDS + wait_s))
    while ((SECONDS < deadline)); do
        engine_up && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
    say "dockerd did not answer within ${wait_s}s; stopping it (pid $pid)"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
}

start_engine() {
    ((EUID == 0)) || die "dockerd is not running and starting it needs root: run 'sudo $0'"
    command -v setsid >/dev/null 2>&1 || die "setsid not found (package util-linux)"
    mkdir -p "$(dirname "$log")"
    if pgrep -x dockerd >/dev/null; then
        say "dockerd is starting; waiting up to ${wait_s}s"
        local deadline=$((SECONDS + wait_s))
        while ((SECONDS < deadline)); do engine_up && return 0; sleep 0.5; done
        die "dockerd runs but does not answer; see $log"
    fi
    # A crash leaves a pid file behind and dockerd then refuses to start.
    rm -f /var/run/docker.pid
    if [[ -n ${DOCKERD_OPTS:-} ]]; then
        : >"$log"
        # shellcheck disable=SC2086  # word splitting intended: a list of flags
        try_start $DOCKERD_OPTS && return 0
        die "dockerd $DOCKERD_OPTS failed; see $log"
    fi
    # Defaults first (overlay2, iptables); then add what a VM or sandbox needs, judged from the log.
    local opts=() attempt
    for attempt in 1 2 3 4; do
        : >"$log"
        try_start "${opts[@]}" && return 0
        if grep -qiE 'overlay|graphdriver|storage.driver' "$log" && [[ " ${opts[*]} " != *vfs* ]]; then
            opts+=(--storage-driver=vfs)
        elif grep -qi 'iptables' "$log" && [[ -x /usr/sbin/iptables-legacy ]] \
            && [[ $(readlink -f /etc/alternatives/iptables) != *legacy* ]]; then
            # nftables-backed iptables fails in some kernels; the legacy backend often works.
            update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
            update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
        elif grep -qi 'iptables' "$log" && [[ " ${opts[*]} " != *iptables=false* ]]; then
            # Last resort: published ports still work (docker-proxy), but builds lose outbound NAT.
            opts+=(--iptables=false)
        else
            break
        fi
        say "attempt $attempt failed; retrying with: ${opts[*]:-(legacy iptables)}"
    done
    tail -n 20 "$log" >&2
    die "could not start dockerd; full log: $log"
}

# The error runc gives when the bounding set lacks a capability a privileged container asks for.
privileged_fails() {
    local probe=ai-hosting-labs/empty:probe out
    docker image inspect "$probe" >/dev/null 2>&1 \
        || tar -c -f - --files-from /dev/null | docker import - "$probe" >/dev/null
    # The image is empty, so a healthy engine fails with "no such file"; only caps errors count.
    out=$(docker run --rm --privileged --entrypoint /probe "$probe" 2>&1) || true
    [[ $out == *"unable to apply caps"* ]]
}

# Registers the wrapper as the default runtime and reloads dockerd (SIGHUP reloads runtimes;
# running containers, other people's included, are untouched).
install_runtime_wrapper() {
    ((EUID == 0)) || die "privileged containers fail (CAP_SYS_RESOURCE missing) and the fix needs root: run 'sudo $0'"
    local wrapper=/usr/local/sbin/ai-hosting-labs-runc config=/etc/docker/daemon.json pid
    say "privileged containers fail here (no CAP_SYS_RESOURCE): registering $wrapper as Docker's default runtime"
    install -m 0755 "$(dirname "$0")/runc-drop-sys-resource" "$wrapper"
    mkdir -p /etc/docker
    /usr/bin/python3 - "$config" "$wrapper" <<'PY'
import json, os, sys
path, wrapper = sys.argv[1:]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {})["ai-hosting-labs-runc"] = {"path": wrapper}
config["default-runtime"] = "ai-hosting-labs-runc"
json.dump(config, open(path, "w"), indent=2)
PY
    pid=$(cat /var/run/docker.pid 2>/dev/null) || die "no /var/run/docker.pid: restart dockerd to load $config"
    kill -HUP "$pid"
    local deadline=$((SECONDS + wait_s))
    until [[ $(docker info --format '{{.DefaultRuntime}}' 2>/dev/null) == ai-hosting-labs-runc ]]; do
        ((SECONDS < deadline)) || die "dockerd (pid $pid) did not load $config; see $log"
        sleep 0.5
    done
    if privileged_fails; then die "privileged containers still fail with the runtime wrapper; see $log"; fi
    say "privileged containers start now (default runtime ai-hosting-labs-runc)"
}

install_missing
if engine_up; then
    say "engine already running ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
else
    start_engine
    say "engine up ($(docker info --format '{{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}'))"
fi
if docker compose version >/dev/null 2>&1; then
    say "compose: $(docker compose version --short 2>/dev/null || echo v2)"
else
    say "compose: docker-compose $(docker-compose version --short 2>/dev/null)"
fi
if privileged_fails; then install_runtime_wrapper; fi
