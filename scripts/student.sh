#!/usr/bin/env bash
# A learner's workspace: the student edition (every solution region a TODO line, no answer key, no reference
# results) written to a new folder as a git repository of its own, with one commit, so `git diff` shows the
# learner's own work and the folder can be handed in as it is (a git repository is one of the grader's formats).
#
# Usage: scripts/student.sh PYTHON DEST
set -o errexit -o nounset -o pipefail
python=${1:?usage: scripts/student.sh PYTHON DEST}
dest=${2:-}
if [[ -z $dest ]]; then
    echo "student: say where your workspace goes, e.g. make student DEST=\$HOME/ai-hosting-labs-work" >&2
    exit 2
fi
instructor=$(mktemp -d)  # the release's instructor files (hidden-check list) are not the learner's
trap 'rm -rf "$instructor"' EXIT
"$python" -m grader release --out "$dest" --instructor-out "$instructor" | grep -v '^instructor files:'
git -C "$dest" init --quiet
git -C "$dest" add --all
git -C "$dest" -c user.name="AI Hosting Labs" -c user.email="labs@invalid" commit --quiet \
    --message "Student edition: the starting point"
cat <<EOT
student: your workspace is $dest (a git repository; its first commit is the starting point)
next:    cd $dest && make setup, then open labs/00-concepts/README.md
EOT
