"""A grading worker for `grader grade`: a long-lived child that imports the grader once and grades one
submission per request (a JSON line on stdin; the reply is a JSON line on the original stdout, while
anything printed during grading goes to stderr). The parent kills it on a deadline and starts another.

After a check timed out, its thread may still be running: the worker says so (`recycle`) and the
parent replaces it, so a runaway check never slows the next submission.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from grader.settings import get_settings


def apply_limits(limit: int) -> None:
    """Memory cap in bytes (GRADER_MEMORY_LIMIT, set by the batch); no core dumps."""
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    settings = get_settings()
    apply_limits(settings.memory_limit)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # nothing printed while grading can corrupt a reply
    from grader import formats, runner, spec

    for line in sys.stdin:
        task = json.loads(line)
        reply: dict[str, object]
        try:
            lab, root = spec.resolve(task["lab"]), Path(task["root"])
            result = runner.run_lab(
                lab, root, static_only=task["static_only"], run_id=task["run_id"], settings=settings
            )
            Path(task["out"]).write_text(formats.project_json(result))
            reply = {"ok": True, "recycle": any(c.status == "timeout" for c in result.checks)}
        except Exception as exc:
            reply = {"ok": False, "recycle": True, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
