#!/usr/bin/env bash
# Build the model-server image, choosing the path by itself and saying which one it took:
#   online:  BASE_IMAGE=python:3.11-slim, dependencies from the package index;
#   offline: OFFLINE=1 or no registry reachable -> the local debootstrap base image + the host
#            wheelhouse, installed with pip --no-index.
# Prints the image's size at the end. Never tags :latest.
#
# Usage: scripts/docker-image.sh IMAGE   (env: OFFLINE, ONLINE_BASE_IMAGE, OFFLINE_BASE_IMAGE,
#        MODELS (baked models, default "digits minilm", "all" for every one),
#        PYTHON for the wheelhouse, DOCKER_BUILD_ARGS for extra `docker build` flags)
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/docker-lib.sh
source "$here/docker-lib.sh"

image=${1:?usage: scripts/docker-image.sh IMAGE (name:tag)}
[[ $image == *:* && $image != *:latest ]] || { echo "docker-image: tag $image with a version or git SHA, not :latest" >&2; exit 2; }
compgen -G 'models/*/*/model.onnx' >/dev/null || { echo "docker-image: no models in models/: run 'make models' first" >&2; exit 1; }
if [[ -n ${MODELS:-} && $MODELS != all ]]; then
    for m in $MODELS; do
        [[ -d models/$m ]] || { echo "docker-image: MODELS names '$m', not in models/ (have: $(cd models && echo */)); or MODELS=all" >&2; exit 2; }
    done
fi

pick_build_path
echo "docker-image: $BUILD_PATH path ($BUILD_REASON)"
base=$(base_image_for_path)
args=(--build-arg "BASE_IMAGE=$base" --build-arg "VERSION=${image##*:}"
    --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
[[ -n ${MODELS:-} ]] && args+=(--build-arg "MODELS=$MODELS")
if [[ $BUILD_PATH == offline ]]; then
    [[ wheelhouse/.built -nt pyproject.toml ]] || "$here/wheelhouse.sh" "${PYTHON:-.venv/bin/python}" wheelhouse
    args+=(--build-arg WHEELHOUSE=wheelhouse)
fi

mkdir -p build
log="build/docker-build-$BUILD_PATH.log"
start=$SECONDS
# Full log in build/, one line per step on the terminal.
# shellcheck disable=SC2086  # DOCKER_BUILD_ARGS is a list of flags
if ! docker build --force-rm --file model_server/Dockerfile --tag "$image" "${args[@]}" ${DOCKER_BUILD_ARGS:-} . 2>&1 \
    | tee "$log" | { grep --line-buffered -E '^Step [0-9]+/[0-9]+ : (FROM|RUN|COPY)|^#[0-9]+ \[' || true; }; then
    tail -n 30 "$log" >&2
    echo "docker-image: build failed; full log: $log" >&2
    exit 1
fi
size=$(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')
echo "docker-image: built $image on the $BUILD_PATH path in $((SECONDS - start))s: $size"
