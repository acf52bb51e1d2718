"""One run, five renderings: text (rich), the project's JSON, Gradescope results.json, JUnit XML, Markdown.

A failed check scores 0 in every format (partial credit only from declared sub-points).
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

from grader.results import CheckResult, LabResult

FORMATS = ("text", "json", "gradescope", "junit", "markdown")
_STYLE = {"passed": "green", "failed": "red", "skipped": "yellow", "timeout": "magenta", "error": "red bold"}
_ICON = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "timeout": "TIMEOUT", "error": "ERROR"}


def _pts(x: float) -> str:
    return f"{x:g}"


def feedback(c: CheckResult) -> str:
    """What was observed, then how to fix it; empty for a plain pass."""
    if c.status == "passed":
        return c.feedback
    lines = [c.feedback]
    if c.status == "skipped" and c.provide:
        lines.append(f"provide it with: {c.provide}")
    elif c.status != "skipped":
        lines.append(f"how to fix: {c.hint}")
    return "\n".join(line for line in lines if line)


def _summary_line(r: LabResult) -> str:
    verdict = "PASSED" if r.passed else "PARTIAL" if r.partial else "NOT PASSED"
    counts = {s: sum(1 for c in r.checks if c.status == s) for s in _ICON}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    extra = f"; {len(r.not_run)} live check(s) not run (--static-only)" if r.not_run else ""
    line = f"{r.lab} {verdict}: {_pts(r.score)}/{_pts(r.max_score)} points ({shown}{extra})"
    # Every check that ran passed, but some could not run here: say which and why, apart from a failure.
    return line + (f"\nPARTIAL: {r.partial_reason}" if r.partial else "")


def text(r: LabResult, width: int = 120) -> str:
    from rich.console import Console  # only the text format needs rich (batch workers write JSON)
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{r.lab_title} (lab {r.lab}, v{r.lab_version}; grader {r.grader_version})", show_lines=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Check")
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("Feedback", overflow="fold")
    for c in r.checks:
        table.add_row(
            Text(_ICON[c.status], style=_STYLE[c.status]),
            f"{c.id}\n{c.title}",
            f"{_pts(c.score)}/{_pts(c.max_score)}",
            Text(feedback(c)),
        )
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, no_color=True)
    console.print(table)
    console.print(_summary_line(r))
    return buf.getvalue()


def project_json(r: LabResult) -> str:
    return json.dumps(r.as_dict(), indent=2) + "\n"


def gradescope_dict(r: LabResult) -> dict:
    tests = []
    for number, c in enumerate(r.checks, 1):
        tests.append(
            {
                "score": c.score,
                "max_score": c.max_score,
                "status": "passed" if c.status == "passed" else "failed",
                "name": f"{c.id}: {c.title}",
                "number": str(number),
                "output": f"{_ICON[c.status]}. {feedback(c)}".strip(),
                "output_format": "text",
                "tags": [r.lab, c.kind] + (["required"] if c.required else []),
                "visibility": c.visibility,
                "extra_data": {"check": c.id, "grader_status": c.status, "duration_s": c.duration_s},
            }
        )
    return {
        "score": r.score,
        "execution_time": max(1, round(r.duration_s)),
        "output": _summary_line(r),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "lab": r.lab,
            "lab_version": r.lab_version,
            "grader_version": r.grader_version,
            "max_score": r.max_score,
            "passed": r.passed,
        },
        "tests": tests,
        "leaderboard": [],
    }


def gradescope(r: LabResult) -> str:
    return json.dumps(gradescope_dict(r), indent=2) + "\n"


def junit(r: LabResult) -> str:
    def count(*statuses: str) -> str:
        return str(sum(1 for c in r.checks if c.status in statuses))

    suite = ET.Element(
        "testsuite",
        name=f"grader.{r.lab}",
        tests=str(len(r.checks)),
        failures=count("failed"),
        errors=count("error", "timeout"),
        skipped=count("skipped"),
        time=f"{r.duration_s:.3f}",
        timestamp=r.started_at,
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (("lab_version", r.lab_version), ("grader_version", r.grader_version), ("score", _pts(r.score))):
        ET.SubElement(props, "property", name=name, value=value)
    for c in r.checks:
        case = ET.SubElement(suite, "testcase", classname=f"grader.{r.lab}", name=c.id, time=f"{c.duration_s:.3f}")
        if c.status == "failed":
            ET.SubElement(
                case, "failure", message=c.feedback.splitlines()[0] if c.feedback else "failed"
            ).text = feedback(c)
        elif c.status in ("error", "timeout"):
            ET.SubElement(case, "error", message=c.feedback, type=c.status).text = feedback(c)
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", message=feedback(c))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", "<br>")


def markdown(r: LabResult) -> str:
    lines = [
        f"### {r.lab_title} (lab {r.lab})",
        "",
        f"**{_summary_line(r)}**",
        "",
        "| Status | Check | Points | Feedback |",
        "|---|---|---:|---|",
    ]
    for c in r.checks:
        lines.append(
            f"| {_ICON[c.status]} | `{c.id}` {_md_cell(c.title)} | {_pts(c.score)}/{_pts(c.max_score)} "
            f"| {_md_cell(feedback(c))} |"
        )
    lines += ["", f"lab version {r.lab_version}, grader {r.grader_version}, {r.duration_s:.1f} s", ""]
    return "\n".join(lines)


RENDER: dict[str, Callable[[LabResult], str]] = {
    "text": text,
    "json": project_json,
    "gradescope": gradescope,
    "junit": junit,
    "markdown": markdown,
}
