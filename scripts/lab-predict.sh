#!/usr/bin/env bash
# Lab 05's prediction: the HPA what-if tool on k8s/base/hpa.yaml and the lab's step load, written to
# labs/05-autoscale/prediction.json (what the grader re-runs and compares) and, with the table and PNG, to OUT.
# The capacity, start replicas, pod start time and metrics lag are the lab's (README step 2); the grader uses the same.
#
# Usage: scripts/lab-predict.sh [PYTHON] [OUT]   (defaults: .venv/bin/python, results/labs/05/whatif)
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

python=${1:-.venv/bin/python}
out=${2:-results/labs/05/whatif}
args=(--hpa k8s/base/hpa.yaml --load labs/05-autoscale/step-load.csv
    --capacity-rps 40 --start-replicas 2 --pod-ready-s 10 --metrics-lag-s 30)

"$python" -m loadtest hpa "${args[@]}" --json >labs/05-autoscale/prediction.json.tmp
mv labs/05-autoscale/prediction.json.tmp labs/05-autoscale/prediction.json
"$python" -m loadtest hpa "${args[@]}" --out "$out"
echo "lab-predict: wrote labs/05-autoscale/prediction.json; table, CSV and PNG in $out"
