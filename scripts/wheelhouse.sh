#!/usr/bin/env bash
# Build the wheelhouse on the host: binary wheels for the server's runtime dependencies, the Locust
# image's extra (loadtest) and the build backend, so images install with `pip --no-index`.
# The host's pip reaches the package index; pip inside containers may not (TLS interception).
#
# Usage: scripts/wheelhouse.sh [PYTHON] [DIR]
set -o errexit -o nounset -o pipefail

python=${1:-.venv/bin/python}
dir=${2:-wheelhouse}
[[ -x $python ]] || { echo "wheelhouse: $python not found: run 'make setup' first" >&2; exit 1; }

# Wheels must match the images' interpreter (CPython 3.11, glibc 2.36 on bookworm).
"$python" - <<'EOF'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"wheelhouse: host Python is {sys.version.split()[0]}; the images run 3.11, so wheels would not match")
EOF

mkdir -p "$dir"
build_backend=$("$python" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
echo "wheelhouse: pip wheel . [loadtest] + build backend ($build_backend) into $dir/"
# shellcheck disable=SC2086  # build_backend is a list of requirement strings without spaces
"$python" -m pip wheel --quiet --prefer-binary --wheel-dir "$dir" ".[loadtest]" $build_backend
# The project itself is installed from the source in the build context, never from a stale wheel.
rm -f "$dir"/ai_hosting_labs-*.whl
touch "$dir/.built"
echo "wheelhouse: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1)"
