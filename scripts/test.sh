#!/usr/bin/env bash
# Run the test suite. pytest's exit code 5 ("no tests collected") is a failure here, said plainly:
# a run that tests nothing must not pass.
set -o errexit -o nounset -o pipefail
python="${1:?usage: scripts/test.sh PYTHON [pytest args...]}"
shift
status=0
"$python" -m pytest "$@" || status=$?
if ((status == 5)); then
  echo "error: pytest collected no tests (check the selection: $*)" >&2
fi
exit "$status"
