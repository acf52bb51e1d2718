"""Gradescope autograder bundles: per lab, a zip with setup.sh and run_autograder at its root and the
student edition beside them (Gradescope unpacks it into /autograder/source), plus the lab's answer keys."""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.spec import REPO_ROOT, LabSpec

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, with internet).
set -o errexit -o nounset -o pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip git
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install '/autograder/source[loadtest,dev]'
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission, write results.json.
# Only the grader writes results.json (the checks' output goes to a log), so prints never corrupt it.
set -o errexit -o nounset -o pipefail
mkdir -p /autograder/results
cd /autograder/source
if ! /autograder/venv/bin/python -m grader check {lab} --path /autograder/submission {flags}--format gradescope \\
    --out /autograder/results/results.json >/autograder/results/grader.log 2>&1; then
    echo "not every required check passed (see results.json)"
fi
if [[ ! -s /autograder/results/results.json ]]; then
    printf '{{"score": 0, "output": "The grader could not run; your instructor has the log.", "tests": []}}\\n' \\
        >/autograder/results/results.json
fi
"""


def write(edition: Path, out: Path, lab: LabSpec, static_only: bool = True) -> Path:
    """lab-NN.zip: Gradescope has no Docker engine, so live checks are left out by default (--static-only)."""
    path = out / f"gradescope-{lab.folder}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in (
            ("setup.sh", SETUP),
            ("run_autograder", RUN.format(lab=lab.id, flags="--static-only " if static_only else "")),
        ):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            zf.writestr(info, body)
        for f in sorted(edition.rglob("*")):
            if f.is_file():
                zf.write(f, str(f.relative_to(edition)))
        for key in lab.grader_keys:  # the answer key the student edition leaves out
            zf.write(REPO_ROOT / "labs" / lab.folder / key, f"labs/{lab.folder}/{key}")
    return path
