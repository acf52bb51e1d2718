#!/usr/bin/env bash
# `make demo`: start the model server locally, run a bounded Locust load on digits and minilm,
# print RPS/p50/p95/p99/error rate per model, write results/demo/. The Python side starts the
# server on a free loopback port and always stops it by PID (also on Ctrl-C or SIGTERM).
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m loadtest demo "$@"
