#!/usr/bin/env bash
# Run the test suite. pytest's exit code 5 ("no tests collected") is a failure here, said plainly:
# a run that tests nothing must not pass.
# PYTEST_WORKERS (default 2) pytest-xdist workers: most tests wait on servers, containers and builds rather than
# use a core; the Docker and kind tests still run one after another on one worker (tests/conftest.py). 0: no xdist.
set -o errexit -o nounset -o pipefail
python="${1:?usage: scripts/test.sh PYTHON [pytest args...]}"
shift
status=0
"$python" -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup "$@" || status=$?
if ((status == 5)); then
  echo "error: pytest collected no tests (check the selection: $*)" >&2
fi
exit "$status"
