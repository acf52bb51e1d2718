#!/usr/bin/env bash
# Run the model-server image the way production would: published on 127.0.0.1 only, read-only root
# filesystem with a tmpfs /tmp, no capabilities, no privilege escalation, CPU and memory limits
# (the server sizes its onnxruntime thread pool from the CPU quota). Waits until ready.
#
# Usage: scripts/docker-run.sh NAME PORT CPUS MEMORY   (env: IMAGE, DOCKER_RUN_ARGS)
set -o errexit -o nounset -o pipefail

name=${1:?usage: scripts/docker-run.sh NAME PORT CPUS MEMORY}
port=${2:?port}
cpus=${3:?cpus}
memory=${4:?memory}
image=${IMAGE:?IMAGE is not set (make run sets it)}

if docker container inspect "$name" >/dev/null 2>&1; then
    echo "docker-run: a container named $name exists already: 'make stop' first" >&2
    exit 1
fi
# shellcheck disable=SC2086  # DOCKER_RUN_ARGS is a list of flags
docker run --detach --rm --name "$name" \
    --publish "127.0.0.1:$port:8000" \
    --cpus "$cpus" --memory "$memory" \
    --read-only --tmpfs /tmp:rw,size=64m \
    --cap-drop ALL --security-opt no-new-privileges \
    --stop-timeout 30 \
    ${DOCKER_RUN_ARGS:-} "$image" >/dev/null

start=$SECONDS
echo "docker-run: $name ($image) starting on 127.0.0.1:$port with --cpus $cpus --memory $memory"
until curl --silent --fail --max-time 2 "http://127.0.0.1:$port/v2/health/ready" >/dev/null; do
    if [[ $(docker inspect --format '{{.State.Running}}' "$name" 2>/dev/null) != true ]]; then
        echo "docker-run: $name exited before it was ready" >&2
        exit 1
    fi
    if ((SECONDS - start > 120)); then
        docker logs --tail 20 "$name" >&2
        echo "docker-run: $name not healthy after 120 s; 'make logs' shows why" >&2
        exit 1
    fi
    sleep 0.2
done
echo "docker-run: ready in $((SECONDS - start))s. Try: curl http://127.0.0.1:$port/v2/models/digits ; 'make logs', 'make stop'"
