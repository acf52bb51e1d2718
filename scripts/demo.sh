#!/usr/bin/env bash
# `make demo`: start the model server locally, run a bounded Locust load on digits and minilm,
# print RPS/p50/p95/p99/error rate per model, write results/demo/. The Python side starts the
# server on a free loopback port and always stops it by PID (also on Ctrl-C or SIGTERM).
# Python: $PYTHON if set (make passes its own), else the project's .venv, else python3 on PATH.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi
exec "$python" -m loadtest demo "$@"
