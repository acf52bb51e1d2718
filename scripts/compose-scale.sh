#!/usr/bin/env bash
# Scaling experiment: the same bounded load through the lb at each replica count, then a table
# (throughput, p50/p95/p99, errors, speed-up over the first count) and a PNG plot.
#
# It runs in a Compose project of its own (COMPOSE_PROJECT + "-scale", on a free loopback port) and
# removes it at the end (KEEP=1 leaves it up), so a stack started with `make compose-up` is not touched.
#
# Usage: scripts/compose-scale.sh [COUNT ...]   (default: 1 2 3)
# Env: IMAGE, PYTHON, RESULTS, PROFILE (loadtest profile, default minilm), USERS (16), DURATION (20 s),
#      WARMUP (3 s), LOADGEN_CPUS (pin the load generator, e.g. 1), MODEL_SERVER_INTRA_OP_THREADS (1),
#      KEEP=1 leaves the experiment's stack up.
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/docker-lib.sh
source "$here/docker-lib.sh"

counts=("$@")
((${#counts[@]})) || counts=(1 2 3)
for n in "${counts[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "compose-scale: replica counts are positive integers (got '$n')" >&2; exit 2; }
done
python=${PYTHON:-.venv/bin/python}
out=${RESULTS:-results}/compose-scale
profile=${PROFILE:-minilm}
users=${USERS:-16}
duration=${DURATION:-20}
warmup=${WARMUP:-3}
user_project=$COMPOSE_PROJECT
export COMPOSE_PROJECT="$user_project-scale"
LB_PORT=$(free_port)
export LB_PORT
# One onnxruntime thread per replica: each replica then needs one core, so the curve shows where
# the cores run out (2 here) instead of every replica fighting over all of them.
export MODEL_SERVER_INTRA_OP_THREADS=${MODEL_SERVER_INTRA_OP_THREADS:-1}
pin=()
[[ -n ${LOADGEN_CPUS:-} ]] && pin=(--cpus "$LOADGEN_CPUS")

load_pid=""
cleanup() {
    [[ -z $load_pid ]] || kill "$load_pid" 2>/dev/null || true
    if [[ -z ${KEEP:-} ]]; then
        echo "compose-scale: removing its stack (project $COMPOSE_PROJECT)"
        "$here/compose.sh" down >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
note="a stack started with 'make compose-up' (project $user_project) is not touched"
project_exists && note="$note; its leftover from an earlier KEEP=1 run is replaced"
echo "compose-scale: replicas ${counts[*]} in its own stack (project $COMPOSE_PROJECT, 127.0.0.1:$LB_PORT), removed at the end (KEEP=1 keeps it); $note"
project_exists && "$here/compose.sh" down >/dev/null 2>&1
rm -rf "$out"
mkdir -p "$out"
step=0
for n in "${counts[@]}"; do
    step=$((step + 1))
    echo "compose-scale: [$step/${#counts[@]}] $n replica(s): starting"
    "$here/compose.sh" up "$n"
    echo "compose-scale: [$step/${#counts[@]}] $n replica(s): $users users, ${duration}s of $profile load (+${warmup}s warm-up); log: $out/$n.log"
    "$python" -m loadtest run --host "http://127.0.0.1:$LB_PORT" --profile "$profile" --users "$users" \
        --duration "$duration" --warmup "$warmup" --no-slo "${pin[@]}" --out "$out/$n" >"$out/$n.log" 2>&1 &
    load_pid=$!
    # The load runner writes to its log only: say how far it is every 5 s.
    t0=$SECONDS next=5
    while kill -0 "$load_pid" 2>/dev/null; do
        if ((SECONDS - t0 >= next)); then
            echo "compose-scale: [$step/${#counts[@]}] $n replica(s): load running for $((SECONDS - t0))s (${warmup}s warm-up + ${duration}s measured, after Locust starts)"
            next=$((next + 5))
        fi
        sleep 0.5
    done
    status=0
    wait "$load_pid" || status=$?
    load_pid=""
    if ((status != 0)); then
        tail -n 20 "$out/$n.log" >&2
        echo "compose-scale: load run failed at $n replica(s)" >&2
        exit 1
    fi
done

"$python" - "$out" "${counts[@]}" <<'EOF'
"""Table (Markdown + CSV) and plot of the runs: one summary.json per replica count."""
import csv, json, sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

out, counts = Path(sys.argv[1]), [int(c) for c in sys.argv[2:]]
rows = []
for n in counts:
    total = json.loads((out / str(n) / "summary.json").read_text())["total"]
    lat = total.get("latency_ms", {})
    rows.append({"replicas": n, "rps": round(total["ok_rps"], 1), "p50_ms": round(lat.get("p50", 0), 1),
                 "p95_ms": round(lat.get("p95", 0), 1), "p99_ms": round(lat.get("p99", 0), 1),
                 "requests": total["requests"], "errors": total["failures"]})
base = rows[0]["rps"] or 1.0
for r in rows:
    r["speedup"] = round(r["rps"] / base, 2)

with open(out / "table.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
header = "| replicas | throughput (req/s) | p50 ms | p95 ms | p99 ms | requests | errors | speed-up |"
lines = [header, "|" + "---|" * 8]
lines += [f"| {r['replicas']} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['requests']} "
          f"| {r['errors']} | {r['speedup']}x |" for r in rows]
(out / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
xs = [r["replicas"] for r in rows]
ax1.plot(xs, [r["rps"] for r in rows], "o-", label="measured")
ax1.plot(xs, [base * x / xs[0] for x in xs], "--", color="grey", label="linear")
ax1.set(xlabel="replicas", ylabel="requests/s", title="Throughput", xticks=xs)
ax1.legend()
for key in ("p50_ms", "p95_ms", "p99_ms"):
    ax2.plot(xs, [r[key] for r in rows], "o-", label=key.split("_")[0])
ax2.set(xlabel="replicas", ylabel="latency (ms)", title="Latency", xticks=xs)
ax2.legend()
fig.suptitle("Compose replicas behind nginx (same bounded load each)")
fig.tight_layout()
fig.savefig(out / "scale.png", dpi=100)
print(f"compose-scale: {out}/table.md, table.csv, scale.png")
sys.exit(1 if any(r["errors"] for r in rows) else 0)
EOF
