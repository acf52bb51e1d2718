"""The lessons against the code: every lab has the required sections, and every make target, script,
`python -m` command and repository path a lesson names exists. Catches docs drifting from code."""

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.labs.test_scripts import predict_args

ROOT = Path(__file__).resolve().parents[2]
LAB_DIRS = [
    "00-concepts",
    "01-serve",
    "02-containerize",
    "03-compose",
    "04-kubernetes",
    "05-autoscale",
    "06-measure",
    "07-optimize",
]
SECTIONS = ("goal", "steps", "checkpoint", "troubleshooting", "reflection")
LAB_DOCS = [ROOT / "labs" / d / "README.md" for d in LAB_DIRS] + [ROOT / "labs" / "INSTRUCTORS.md"]
# Every README of the repository (the top one and each component's), besides the lessons.
DOCS = LAB_DOCS + sorted(
    p
    for p in ROOT.rglob("README.md")
    if not {".venv", ".venv-peers", "build", "results", "node_modules", ".git"} & set(p.parts)
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]+)(?:#[^)]*)?\)")
# Inline code spans and fenced blocks: commands are only taken from there, never from prose.
CODE = re.compile(r"```[a-z]*\n(.*?)```|`([^`\n]+)`", re.DOTALL)
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+((?:-\S+\s+)*)([a-z][a-z0-9-]*)(?=[\s`;)]|$)", re.MULTILINE)
PYTHON_M = re.compile(r"python -m ([a-z_.]*[a-z_])(?:[ \t]+([a-z][a-z-]*))?")
SCRIPT = re.compile(r"(?<![\w/])scripts/[\w.-]+\.(?:sh|py)\b")
REPO_PATH = re.compile(r"(?<![\w/.-])((?:labs|k8s|loadtest|model_server|docker|grader)/[\w./-]*\w)")


def code(doc: Path) -> str:
    return "\n".join(a or b for a, b in CODE.findall(doc.read_text()))


@cache
def make_targets() -> set[str]:
    """Targets `make help` lists (a `## ...` comment after the colon)."""
    return set(re.findall(r"^([a-zA-Z0-9_-]+):[^=\n]*##", (ROOT / "Makefile").read_text(), re.MULTILINE))


@pytest.mark.parametrize("lab", LAB_DIRS)
def test_lab_readme_has_every_section_and_its_checkpoint(lab):
    readme = ROOT / "labs" / lab / "README.md"
    headings = [h.lower() for h in re.findall(r"^## (.+)$", readme.read_text(), re.MULTILINE)]
    for section in SECTIONS:
        assert any(section in h for h in headings), f"{readme} has no '## {section.title()}' section"
    assert f"make check LAB={lab[:2]}" in readme.read_text()
    steps = readme.read_text().split("## Steps", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^1\. ", steps, re.MULTILINE), f"{readme}: steps must be a numbered list"


def _doc_id(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_every_link_leads_to_a_file(doc):
    """Markdown links are relative to the page; a moved section must not leave a dead one."""
    links = [t for t in LINK.findall(doc.read_text()) if not re.match(r"^[a-z]+:", t)]
    dead = sorted(t for t in links if not (doc.parent / t).exists())
    assert not dead, f"{doc.relative_to(ROOT)} links to missing files: {dead}"


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_every_make_target_script_and_path_named_exists(doc):
    text = code(doc)
    targets = {m[1] for m in MAKE.findall(text)}
    missing = sorted(targets - make_targets())
    assert not missing, f"{doc.relative_to(ROOT)} names make targets the Makefile lacks: {missing}"
    scripts = set(SCRIPT.findall(doc.read_text()))
    assert all((ROOT / s).is_file() for s in scripts), sorted(s for s in scripts if not (ROOT / s).exists())
    paths = {p for p in REPO_PATH.findall(text) if "results" not in p and "<" not in p and "NN" not in p}
    absent = sorted(p for p in paths if not (ROOT / p.rstrip(".")).exists())
    assert not absent, f"{doc.relative_to(ROOT)} names paths that do not exist: {absent}"


def python_commands() -> set[tuple[str, str | None]]:
    found: set[tuple[str, str | None]] = set()
    for doc in DOCS:
        if doc.exists():
            found |= {(m, sub or None) for m, sub in PYTHON_M.findall(code(doc))}
    return found


@pytest.mark.parametrize("module,sub", sorted(python_commands(), key=str), ids=lambda v: str(v))
def test_every_python_m_command_named_answers_help(module, sub):
    args = [sys.executable, "-m", module, *([sub] if sub else []), "--help"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"`python -m {module} {sub or ''} --help` failed: {proc.stderr[-500:]}"


def test_every_load_run_a_lesson_gives_works_as_written():
    """A learner copies the command: the venv's python (a bare `python` is not the project's outside the venv)
    and a --host (the run has no default target)."""
    for doc in LAB_DOCS:
        for line in code(doc).splitlines():
            for m in re.finditer(r"(\S*)python -m loadtest run\b([^`]*)", line):
                assert m[1] == ".venv/bin/", f"{doc.relative_to(ROOT)}: `{m[0]}` lacks .venv/bin/"
                assert "--host" in m[2], f"{doc.relative_to(ROOT)}: `{m[0]}` has no --host"


def test_lab_05_step_1_asks_for_every_behavior_policy_the_expected_output_needs():
    """Step 2's expected timeline (6 -> 3 by `Percent 50%/30s`, then 3 -> 2) comes from the reference HPA; without
    its scale-down policy, step 1's HPA gives 6 -> 2 at 315 s. Step 1 must ask for every policy, and the expected
    lines must be what the what-if tool prints for the reference."""
    import yaml

    readme = (ROOT / "labs/05-autoscale/README.md").read_text()
    step1 = readme.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    hpa = yaml.safe_load((ROOT / "k8s/base/hpa.yaml").read_text())
    for direction, rules in hpa["spec"]["behavior"].items():
        for policy in rules.get("policies", []):
            unit = "%" if policy["type"] == "Percent" else " pods"
            wanted = f"{policy['value']}{unit} per {policy['periodSeconds']} s"
            assert wanted in step1, f"step 1 does not ask for the {direction} policy {wanted!r}"
    step2 = readme.split("\n2. ", 1)[1].split("\n3. ", 1)[0]
    command = re.search(r"`\.venv/bin/python -m loadtest hpa ([^`]+)`", step2)
    assert command, "step 2 does not show the what-if command that scripts/lab-predict.sh runs"
    assert command.group(1).split() == predict_args(), "step 2's command is not the one scripts/lab-predict.sh runs"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "hpa", *command.group(1).split()],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    decisions = [line.strip() for line in proc.stdout.splitlines() if re.match(r"\s*t=\d+s: ", line)]
    expected = re.findall(r"^\s*(t=\d+s: .*)$", step2, re.MULTILINE)
    assert decisions and decisions == expected


def test_numbers_the_lessons_state_match_the_code():
    """Figures a learner checks against what the code does (issue 17's list): the client's request count, the
    Kubernetes version the manifests are validated against, the trade-off study's users per family."""
    from grader.policies.kubernetes import KUBERNETES_VERSION
    from loadtest.studies.tradeoffs import RATES, USERS

    client = (ROOT / "labs/01-serve/client.py").read_text()
    default = re.search(r'"--requests", type=int, default=(\d+)', client)[1]
    lab01 = (ROOT / "labs/01-serve/README.md").read_text()
    assert f"{default} sequential v2 requests" in lab01
    assert re.findall(r"the next (\w+)", lab01) == [default], "lab 01 names another request count than the default"
    minor = ".".join(KUBERNETES_VERSION.split(".")[:2])
    lab04 = (ROOT / "labs/04-kubernetes/README.md").read_text()
    assert f"-k {KUBERNETES_VERSION}" in lab04 and f"against version {minor}`" in lab04
    readme = (ROOT / "loadtest" / "README.md").read_text()
    for family, rate in RATES.items():
        assert f"{family}\n  {rate:g} requests/s over {USERS[family]} users" in readme or (
            f"{family} {rate:g} requests/s over {USERS[family]} users" in readme
        ), f"README states another user count for {family}"
