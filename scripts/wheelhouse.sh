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
# The requirement strings themselves (runtime, the loadtest extra, the build backend), not `pip wheel .`: building
# the project would write build/ in this tree, which a concurrent build (make test's workers) can pull from under it.
requirements=$("$python" -c 'import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
print(" ".join(p["project"]["dependencies"] + p["project"]["optional-dependencies"]["loadtest"] + p["build-system"]["requires"]))')
echo "wheelhouse: the pinned runtime and [loadtest] requirements and the build backend into $dir/"
# shellcheck disable=SC2086  # a list of requirement strings without spaces
"$python" -m pip wheel --quiet --prefer-binary --wheel-dir "$dir" $requirements
touch "$dir/.built"
echo "wheelhouse: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1)"
