#!/usr/bin/env bash
# Run the Compose stack with whichever Compose is installed (v2 plugin or v1.29).
#   up N       build the lb image, start N model-server replicas + lb, wait until all are healthy
#   loadtest   add the Locust master + 2 workers (profile loadtest); web UI on 127.0.0.1:${LOCUST_PORT:-8089}
#   down       remove this project's containers and network (nothing else)
#   ps | logs  pass through to compose
# Env: IMAGE (server image, required for up), COMPOSE_PROJECT, LB_PORT, OFFLINE, LOCUST_WORKERS.
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/docker-lib.sh
source "$here/docker-lib.sh"

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 2; }
cmd=${1:-}
[[ -n $cmd ]] || usage
shift

# Variables docker-compose.yml reads.
export_compose_env() {
    export IMAGE=${IMAGE:?IMAGE is not set: make sets it, or export IMAGE=ai-hosting-labs/model-server:TAG}
    docker image inspect "$IMAGE" >/dev/null 2>&1 || { echo "compose: image $IMAGE not found: run 'make image'" >&2; exit 1; }
    export IMAGE_TAG=${IMAGE##*:} LB_PORT
    pick_build_path
    BASE_IMAGE=$(base_image_for_path)
    export BASE_IMAGE
    if [[ $BUILD_PATH == offline ]]; then export WHEELHOUSE=wheelhouse; else export WHEELHOUSE=""; fi
}

case $cmd in
    up)
        replicas=${1:-2}
        export_compose_env
        echo "compose: building lb ($BUILD_PATH path, base $BASE_IMAGE)"
        compose build --quiet lb
        echo "compose: starting $replicas model-server replica(s) + lb"
        compose up --detach --no-build --scale "model-server=$replicas" model-server lb
        wait_healthy 180
        # A scale change keeps the running lb: make it resolve the replicas again.
        reload_lb
        echo "compose: ready on http://127.0.0.1:$LB_PORT ($replicas replica(s); header X-Upstream names the one that served)"
        ;;
    loadtest)
        export_compose_env
        echo "compose: building the Locust image ($BUILD_PATH path)"
        compose --profile loadtest build --quiet locust-master
        compose --profile loadtest up --detach --no-build --no-deps \
            --scale "locust-worker=${LOCUST_WORKERS:-2}" locust-master locust-worker
        echo "compose: Locust web UI on http://127.0.0.1:${LOCUST_PORT:-8089} (target http://lb:8080)"
        ;;
    down)
        compose --profile loadtest down --remove-orphans --timeout 30
        ;;
    ps | logs)
        compose --profile loadtest "$cmd" "$@"
        ;;
    *) usage ;;
esac
