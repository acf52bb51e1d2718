#!/usr/bin/env bash
# Regenerate the committed reference results of labs 06 and 07 with the real tools on this machine, keeping only
# what the grader reads (summary.json and slo.json per run; tradeoffs.csv, .md and pareto.png), not the raw
# per-request timings and Locust reports (megabytes). After a lab 07 run, update labs/07-optimize/decision.md to the
# new table: `make check LAB=07` says what no longer matches.
#
# Usage: scripts/lab-reference.sh [06] [07]   (default both; env PYTHON)
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
read -r -a labs <<<"${*:-06 07}"
keep() {  # keep DIR NAME...: delete every file under DIR whose name is not one of NAME
    local dir=$1 args=()
    shift
    for name in "$@"; do args+=(! -name "$name"); done
    find "$dir" -type f "${args[@]}" -delete
    find "$dir" -mindepth 1 -type d -empty -delete
}

for lab in "${labs[@]}"; do
    case $lab in
        06)
            out=labs/06-measure/results
            port=$("$python" -c 'from loadtest.local_server import free_port; print(free_port())')
            log=$(mktemp)
            taskset -c 0 "$python" -m model_server --host 127.0.0.1 --port "$port" --models digits \
                --drain-seconds 0 >"$log" 2>&1 &
            pid=$!
            trap 'kill "$pid" 2>/dev/null || true' EXIT
            "$python" -c "from loadtest import preflight; preflight.wait_ready('http://127.0.0.1:$port', 120)"
            new=$(mktemp -d "${TMPDIR:-/tmp}/ahl-lab06.XXXXXX")
            "$python" -m loadtest run --host "http://127.0.0.1:$port" --profile digits --users 8 --duration 10 \
                --warmup 2 --trials 3 --cpus 1 --slo labs/06-measure/slo.yaml --out "$new"
            kill "$pid" && wait "$pid" 2>/dev/null || true
            trap - EXIT
            rm -f "$log"
            keep "$new" summary.json slo.json
            chmod 755 "$new"  # mktemp made it private
            rm -rf "$out"
            mv "$new" "$out"
            ;;
        07)
            out=labs/07-optimize/results
            new=$(mktemp -d "${TMPDIR:-/tmp}/ahl-lab07.XXXXXX")
            # Into a new folder first: a failed study leaves the committed table alone.
            "$python" -m loadtest tradeoffs --quick --repeats 3 --out "$new"  # medians of 3 interleaved runs
            keep "$new" tradeoffs.csv tradeoffs.md pareto.png
            rm -rf "$out"
            mkdir -p "$out"
            mv "$new"/* "$out"/
            rmdir "$new"
            echo "lab-reference: now make labs/07-optimize/decision.md quote this table, then make check LAB=07"
            ;;
        *) echo "lab-reference: only labs 06 and 07 have committed results (got '$lab')" >&2; exit 2 ;;
    esac
    du -sh "$out"
done
