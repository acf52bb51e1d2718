#!/usr/bin/env bash
# Measure the server image: size of each layer (`docker history`), what the largest folders hold
# (`du` inside the image), setuid/setgid files left, and start-to-ready (from `docker run`, hardened
# as `make run` does, to /v2/health/ready = 200, and the server's CPU seconds until then) over RUNS
# runs. Prints a table and writes JSON.
#
# Usage: scripts/docker-image-report.sh IMAGE [OUT.json]   (env: RUNS (3), PYTHON)
set -o errexit -o nounset -o pipefail

image=${1:?usage: scripts/docker-image-report.sh IMAGE [OUT.json]}
out=${2:-results/image/report.json}
runs=${RUNS:-3}
python=${PYTHON:-.venv/bin/python}
docker image inspect "$image" >/dev/null 2>&1 || { echo "image-report: image $image not found: run 'make image'" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "image-report: RUNS must be a positive integer (got '$runs')" >&2; exit 2; }
mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
name="ahl-image-report-$$"
cleanup() {
    docker rm --force "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "image-report: layers and folders of $image"
docker history --no-trunc --format '{{json .}}' "$image" >"$work/history.jsonl"
# Sizes in KiB, as root so that every folder is readable.
# One du per folder: given nested folders at once, du counts each file under the first only.
docker run --rm --user 0 --entrypoint sh "$image" -c '
    for d in /usr /var /etc /opt/venv /models /usr/lib/python3* /usr/local/lib/python3* /usr/lib/*-linux-gnu \
        /usr/bin /usr/share /opt/venv/lib/python3*/site-packages/* /models/*; do
        if [ -e "$d" ]; then du -s --block-size=1K "$d"; fi
    done
' >"$work/du.txt"
docker run --rm --user 0 --entrypoint find "$image" / -xdev -type f -perm /6000 >"$work/setuid.txt"

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
: >"$work/ready.txt"
: >"$work/cpu.txt"
for i in $(seq "$runs"); do
    start=$("$python" -c 'import time; print(time.monotonic())')
    docker run --detach --name "$name" --publish "127.0.0.1:$port:8000" --read-only --tmpfs /tmp \
        --cap-drop ALL --security-opt no-new-privileges "$image" >/dev/null
    "$python" - "$port" "$start" >>"$work/ready.txt" <<'EOF'
import sys, time, urllib.request

port, start = sys.argv[1], float(sys.argv[2])
deadline = start + 120
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as r:
            if r.status == 200:
                print(f"{time.monotonic() - start:.3f}")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("image-report: not ready after 120 s")
EOF
    # CPU seconds the server (PID 1, all threads) used until ready: unlike wall time, not skewed by other load.
    docker exec "$name" cat /proc/1/stat | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' >>"$work/cpu.txt"
    echo "image-report: run $i/$runs ready in $(tail -n 1 "$work/ready.txt") s ($(tail -n 1 "$work/cpu.txt") s of CPU)"
    docker rm --force "$name" >/dev/null
done

"$python" - "$image" "$work" "$out" <<'EOF'
import json, subprocess, sys
from pathlib import Path

image, work, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
layers = []
for line in (work / "history.jsonl").read_text().splitlines():
    row = json.loads(line)
    if row["Size"] in ("0B", "0"):
        continue
    layers.append({"size": row["Size"], "created_by": row["CreatedBy"][:160]})
layers.reverse()
folders = {}
for line in (work / "du.txt").read_text().splitlines():
    kib, path = line.split(maxsplit=1)
    folders[path] = round(int(kib) / 1024, 1)
ready = [float(x) for x in (work / "ready.txt").read_text().split()]
cpu = [float(x) for x in (work / "cpu.txt").read_text().split()]
size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", image],
                          capture_output=True, text=True, check=True).stdout)
report = {
    "image": image,
    "size_mb": round(size / 1e6, 1),
    "layers": layers,
    "folders_mib": folders,
    "setuid_setgid": (work / "setuid.txt").read_text().split(),
    "start_to_ready_s": ready,
    "cpu_to_ready_s": cpu,
}
out.write_text(json.dumps(report, indent=2) + "\n")
print(f"image-report: {image}: {report['size_mb']} MB")
for layer in layers:
    print(f"  {layer['size']:>9}  {layer['created_by'][:100]}")
top = sorted(folders.items(), key=lambda kv: -kv[1])[:12]
print("  largest folders (MiB): " + ", ".join(f"{p} {v}" for p, v in top))
print(f"  setuid/setgid files: {len(report['setuid_setgid'])}")
print(f"  start to ready (s): {', '.join(f'{r:.2f}' for r in ready)}; CPU until ready (s): {', '.join(map(str, cpu))}")
print(f"image-report: {out}")
EOF
