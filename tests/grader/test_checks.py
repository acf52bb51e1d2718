"""Proof that the checks discriminate: each broken submission fails exactly the check it breaks, and the
feedback names the problem; the reference passes every static check."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.grader.conftest import grade, statuses

Mutation = Callable[[Path], None]
TABLE = "labs/07-optimize/results/tradeoffs.csv"
DECISION = "labs/07-optimize/decision.md"


def edit(rel: str, old: str, new: str, count: int = 1) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, f"fixture out of date: {old!r} not in {rel}"
        path.write_text(text.replace(old, new, count))

    return apply


def drop_lines(rel: str, pattern: str) -> Mutation:
    """Remove the instruction/line matching `pattern` and any continuation lines after it."""

    def apply(root: Path) -> None:
        path = root / rel
        out, skipping = [], False
        for line in path.read_text().splitlines(keepends=True):
            if skipping:
                skipping = line.rstrip().endswith("\\")
                continue
            if re.search(pattern, line):
                skipping = line.rstrip().endswith("\\")
                continue
            out.append(line)
        assert len(out) < len(path.read_text().splitlines()), f"fixture out of date: {pattern!r} not in {rel}"
        path.write_text("".join(out))

    return apply


def yaml_edit(rel: str, change: Callable[[list[dict]], None]) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        change(docs)
        path.write_text(yaml.safe_dump_all(docs))

    return apply


def csv_edit(rel: str, config: str, column: str, value: str) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        rows = list(csv.DictReader(path.open()))
        assert any(r["config"] == config for r in rows), f"fixture out of date: no {config} in {rel}"
        for r in rows:
            if r["config"] == config:
                r[column] = value
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    return apply


def regex_edit(rel: str, pattern: str, repl: str) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        text, n = re.subn(pattern, repl, path.read_text(), count=1)
        assert n == 1, f"fixture out of date: {pattern!r} not in {rel}"
        path.write_text(text)

    return apply


def _table(root: Path) -> dict[str, dict]:
    return {r["config"]: r for r in csv.DictReader((root / TABLE).open())}


def _chosen(root: Path) -> str:
    from grader.checks.decision import CHOSEN as _CHOSEN

    match = _CHOSEN.search((root / DECISION).read_text())
    assert match, "the reference decision.md names no choice"
    return match.group(1)


def choose(root: Path, which: Callable[[dict], bool]) -> str:
    """Rewrite decision.md to pick the first configuration of the table that `which` accepts."""
    other = next(c for c, r in _table(root).items() if which(r))
    regex_edit(DECISION, rf"`?{re.escape(_chosen(root))}`?", f"`{other}`")(root)
    return other


def collapse_int8(root: Path) -> None:
    """An int8 model whose accuracy collapsed (one that is not the choice, so only the quality check fails)."""
    chosen = _chosen(root)
    victim = next(
        c
        for c, r in _table(root).items()
        if r["precision"] == "int8" and c != chosen and r["quality_metric"] == "accuracy"
    )
    csv_edit(TABLE, victim, "quality", "0.61")(root)


def _container(docs: list[dict]) -> dict:
    return docs[0]["spec"]["template"]["spec"]["containers"][0]


# (lab, check that must fail alone, mutation, words the feedback must contain)
CASES: list[tuple[str, str, Mutation, str]] = [
    ("00", "quiz.answers", edit("labs/00-concepts/answers.yaml", "\nq01: d", "\nq01: a"), "q01"),
    (
        "01",
        "client.structure",
        edit("labs/01-serve/client.py", "def predict_v1(", "def predict(", 1),
        "no top-level function predict_v1",
    ),
    (
        "01",
        "client.stdlib_only",
        edit("labs/01-serve/client.py", "import json\n", "import json\nimport requests\n"),
        "imports requests",
    ),
    ("01", "client.endpoints", edit("labs/01-serve/client.py", '}:predict"', '}:predikt"'), "v1 route"),
    (
        "02",
        "dockerfile.multi_stage",
        edit("model_server/Dockerfile", "COPY --from=builder", "COPY", 2),
        "copies nothing from an earlier stage",
    ),
    ("02", "dockerfile.non_root", drop_lines("model_server/Dockerfile", r"^USER "), "runs as root"),
    ("02", "dockerfile.healthcheck", drop_lines("model_server/Dockerfile", r"^HEALTHCHECK "), "no HEALTHCHECK"),
    (
        "02",
        "dockerfile.pinned_base",
        edit("model_server/Dockerfile", "ARG BASE_IMAGE=python:3.11-slim", "ARG BASE_IMAGE=python"),
        "not pinned",
    ),
    (
        "02",
        "dockerfile.hadolint",
        edit("model_server/Dockerfile", "WORKDIR /src\n", "WORKDIR /src\nRUN cd /tmp && echo hi\n"),
        "DL3003",
    ),
    (
        "03",
        "compose.schema",
        edit(
            "docker-compose.yml", "    stop_grace_period: 30s", "    stop_grace_period: 30s\n    restart_policy: always"
        ),
        "restart_policy",
    ),
    (
        "03",
        "compose.lb",
        edit("docker-compose.yml", "condition: service_healthy\n    ports", "condition: service_started\n    ports"),
        "service_healthy",
    ),
    (
        "03",
        "compose.replicas",
        edit("docker-compose.yml", "  model-server:\n", "  model-server:\n    container_name: server\n"),
        "container_name",
    ),
    (
        "03",
        "compose.loopback_ports",
        edit("docker-compose.yml", '"127.0.0.1:${LB_PORT:-8080}:8080"', '"${LB_PORT:-8080}:8080"'),
        "127.0.0.1 only",
    ),
    (
        "03",
        "compose.healthchecks",
        yaml_edit("docker-compose.yml", lambda d: d[0]["services"]["model-server"].pop("healthcheck")),
        "model-server has no healthcheck",
    ),
    (
        "03",
        "compose.nginx_upstream",
        edit("docker/lb/nginx.conf", "server model-server:8000", "server modelserver:8000"),
        "no upstream block",
    ),
    (
        "04",
        "k8s.render",
        yaml_edit("k8s/base/deployment.yaml", lambda d: _container(d).update(imagePullPolicyy="Always")),
        "imagePullPolicyy",
    ),
    (
        "04",
        "k8s.probes",
        yaml_edit("k8s/base/deployment.yaml", lambda d: _container(d).pop("readinessProbe")),
        "readinessProbe",
    ),
    (
        "04",
        "k8s.security_context",
        yaml_edit(
            "k8s/base/deployment.yaml", lambda d: _container(d)["securityContext"].update(readOnlyRootFilesystem=False)
        ),
        "readOnlyRootFilesystem",
    ),
    (
        "04",
        "k8s.service",
        yaml_edit(
            "k8s/base/service.yaml", lambda d: d[0]["spec"].update(selector={"app.kubernetes.io/name": "modelserver"})
        ),
        "selector",
    ),
    (
        "04",
        "k8s.no_replicas",
        yaml_edit("k8s/base/deployment.yaml", lambda d: d[0]["spec"].update(replicas=3)),
        "replicas",
    ),
    ("04", "k8s.image_tags", edit("k8s/overlays/kind/kustomization.yaml", "newTag: dev", "newTag: latest"), "latest"),
    (
        "04",
        "k8s.nodeport",
        edit("k8s/kind-cluster.yaml", 'listenAddress: "127.0.0.1"', 'listenAddress: "0.0.0.0"'),
        "127.0.0.1",
    ),
    (
        "05",
        "hpa.prediction",
        edit("labs/05-autoscale/prediction.json", '"replicas": 2', '"replicas": 3'),
        "does not match the what-if tool",
    ),
]


@pytest.mark.parametrize(("lab", "check", "mutate", "words"), CASES, ids=[c[1] for c in CASES])
def test_broken_submission_fails_exactly_that_check(
    submission, lab: str, check: str, mutate: Mutation, words: str
) -> None:
    root = submission(lab)
    before = statuses(grade(lab, root))
    mutate(root)
    result = grade(lab, root)
    after = statuses(result)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {check}, f"expected only {check} to change, got {changed}: {after}"
    failed = next(c for c in result.checks if c.id == check)
    assert failed.status == "failed" and failed.score < failed.max_score
    assert words.lower() in failed.feedback.lower(), failed.feedback


def test_an_hpa_on_a_deployment_without_cpu_requests(submission) -> None:
    root = submission("05")
    yaml_edit("k8s/base/deployment.yaml", lambda d: _container(d)["resources"]["requests"].pop("cpu"))(root)
    result = {c.id: c for c in grade("05", root).checks}
    assert result["hpa.target"].status == "failed"
    assert "cpu" in result["hpa.target"].feedback.lower()


def test_an_hpa_without_behavior_fails_the_spec_and_its_stale_prediction(submission) -> None:
    """The prediction is the what-if timeline of the HPA: changing the HPA makes the saved one stale too, and the
    recording, made with the 60 s window, scales down inside the default 300 s one."""
    root = submission("05")
    yaml_edit("k8s/base/hpa.yaml", lambda d: d[0]["spec"].pop("behavior"))(root)
    result = {c.id: c for c in grade("05", root).checks}
    assert {k for k, c in result.items() if c.status == "failed"} == {"hpa.spec", "hpa.prediction", "hpa.observed"}
    assert "behavior" in result["hpa.spec"].feedback
    assert "before the 300 s stabilization window" in result["hpa.observed"].feedback


def test_an_hpa_that_never_scales_down_fails_the_prediction(submission) -> None:
    root = submission("05")
    yaml_edit("k8s/base/hpa.yaml", lambda d: d[0]["spec"]["behavior"]["scaleDown"].update(selectPolicy="Disabled"))(
        root
    )
    check = {c.id: c for c in grade("05", root).checks}["hpa.prediction"]
    assert check.status == "failed" and "never scales down" in check.feedback


def test_a_wrong_quoted_cost_loses_only_the_cost_subpoint(submission) -> None:
    root = submission("07")
    cost = _table(root)[_chosen(root)]["usd_per_million"]
    regex_edit(DECISION, rf"\${re.escape(cost)}(?=\s*per million)", "$9.99")(root)
    check = {c.id: c for c in grade("07", root).checks}["decision.choice"]
    assert check.status == "failed" and check.score == 4
    assert [p.id for p in check.parts if not p.passed] == ["cost"] and f"the table says {cost}" in check.feedback


def test_a_dominated_choice_is_named(submission) -> None:
    root = submission("07")
    chosen = _table(root)[_chosen(root)]
    rival = next(
        c for c, r in _table(root).items() if c != chosen["config"] and r["quality_metric"] == chosen["quality_metric"]
    )
    # The rival becomes as good on quality and clearly cheaper (half the cost: beyond any noise margin).
    for column, value in (
        ("slo", "met"),
        ("quality", chosen["quality"]),
        ("cpu_spread", "0"),
        ("usd_per_million", str(float(chosen["usd_per_million"]) / 2)),
    ):
        csv_edit(TABLE, rival, column, value)(root)
    check = {c.id: c for c in grade("07", root).checks}["decision.choice"]
    assert [p.id for p in check.parts if not p.passed] == ["pareto"]
    assert f"{chosen['config']} is dominated by {rival}" in check.feedback


def test_a_choice_within_the_noise_margin_of_the_front_is_not_wrong(submission) -> None:
    """Thirty learners, thirty noisy tables: a rival cheaper by less than the table's noise margin (or than the
    CPU spread either row measured over its repeats) ties; the choice stays on the front."""
    root = submission("07")
    chosen = _table(root)[_chosen(root)]
    rival = next(
        c for c, r in _table(root).items() if c != chosen["config"] and r["quality_metric"] == chosen["quality_metric"]
    )
    cost = float(chosen["usd_per_million"])
    for column, value in (("slo", "met"), ("quality", chosen["quality"]), ("cpu_spread", "0")):
        csv_edit(TABLE, rival, column, value)(root)
    csv_edit(TABLE, chosen["config"], "cpu_spread", "0")(root)
    csv_edit(TABLE, rival, "usd_per_million", f"{cost / 1.08:.6f}")(root)  # 8% cheaper: within the 10% margin
    check = {c.id: c for c in grade("07", root).checks}["decision.choice"]
    assert check.status == "passed", check.feedback
    csv_edit(TABLE, rival, "usd_per_million", f"{cost / 1.15:.6f}")(root)  # 15%: beyond it
    csv_edit(TABLE, chosen["config"], "cpu_spread", "0.2")(root)  # ...but this choice's own repeats spread 20%
    check = {c.id: c for c in grade("07", root).checks}["decision.choice"]
    assert check.status == "passed", check.feedback
    csv_edit(TABLE, chosen["config"], "cpu_spread", "0")(root)
    check = {c.id: c for c in grade("07", root).checks}["decision.choice"]
    assert [p.id for p in check.parts if not p.passed] == ["pareto"]


def test_a_broken_summary_fails_the_summary_and_the_verdict_built_on_it(submission) -> None:
    root = submission("06")
    (root / "labs/06-measure/results/trial-2/summary.json").write_text('{"total": {"requests": 3}}')
    result = {c.id: c for c in grade("06", root).checks}
    assert {k for k, c in result.items() if c.status == "failed"} == {"results.summary", "results.slo_met"}
    assert "is not a loadtest summary" in result["results.summary"].feedback


def test_a_compose_file_without_the_load_balancer(submission) -> None:
    root = submission("03")
    yaml_edit("docker-compose.yml", lambda d: d[0]["services"].pop("lb"))(root)
    result = {c.id: c for c in grade("03", root).checks}
    assert result["compose.lb"].status == "failed"
    assert "no `lb` service" in result["compose.lb"].feedback


def test_a_wrong_quiz_answer_loses_only_its_point(submission) -> None:
    root = submission("00")
    edit("labs/00-concepts/answers.yaml", "\nq01: d", "\nq01: c")(root)
    check = grade("00", root).checks[0]
    assert check.status == "failed" and check.score == check.max_score - 1
    assert [p.id for p in check.parts if not p.passed] == ["q01"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\x01\x02binary", "binary"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"q01: [unclosed", "not valid YAML at line"),
        (b"- q01\n- q02\n", "must be a mapping"),
        (b"q01: b\n" * 400_000, "over the 2 MB"),
    ],
)
def test_malformed_files_get_a_clear_verdict(submission, content: bytes, words: str) -> None:
    root = submission("00")
    (root / "labs/00-concepts/answers.yaml").write_bytes(content)
    check = grade("00", root).checks[0]
    assert check.status == "failed" and check.score == 0
    assert words in check.feedback


def test_a_missing_file_says_what_to_create(tmp_path: Path) -> None:
    result = grade("02", tmp_path)
    assert {c.status for c in result.checks} == {"failed"}
    assert "missing file model_server/Dockerfile" in result.checks[0].feedback


def test_a_symlink_out_of_the_submission_is_not_read(submission, tmp_path: Path) -> None:
    root = submission("02")
    secret = tmp_path / "secret"
    secret.write_text("FROM scratch\n")
    (root / "model_server/Dockerfile").unlink()
    (root / "model_server/Dockerfile").symlink_to(secret)
    check = grade("02", root, only=["dockerfile.non_root"]).checks[0]
    assert check.status == "failed" and "outside the submission" in check.feedback


def test_a_compose_stack_that_reaches_the_host_is_not_started(tmp_path: Path) -> None:
    from grader.policies.compose import vet

    compose = {
        "services": {
            "model-server": {"image": "x", "privileged": True, "volumes": ["/:/host"]},
            "lb": {"image": "y", "network_mode": "host", "volumes": ["./docker/lb:/etc/nginx:ro"]},
        }
    }
    problems = vet(compose, tmp_path)
    assert problems == [
        "service model-server sets privileged; the grader does not start it",
        "service model-server mounts / from outside the submission",
        "service lb uses network_mode host",
    ]


def test_a_missing_tool_fails_with_doctors_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from grader.ops import doctor

    diagnoses = [
        doctor.Diagnosis("ok", "python", "python 3.11.7"),
        doctor.Diagnosis("warn", "kind", "kind not found", "install kind"),
    ]
    monkeypatch.setattr(doctor, "check_tools", lambda: diagnoses)
    lab = grade("00", tmp_path, only=["tools.core", "tools.docker", "tools.kind"], static_only=False)
    result = {c.id: c for c in lab.checks}
    assert result["tools.kind"].status == "failed" and "kind not found: install kind" in result["tools.kind"].feedback
    assert result["tools.docker"].status == "failed" and "not diagnosed" in result["tools.docker"].feedback
    # Lab 00 needs Python only: the later labs' tools are optional checks, so the checkpoint still passes.
    assert result["tools.core"].status == "passed" and lab.passed
