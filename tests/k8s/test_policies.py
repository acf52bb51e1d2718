"""Every policy passes on the reference, and each one discriminates: a small break of the reference fails exactly
that check, with a finding that names the object, the field and the problem."""

import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.policies import kubernetes as k8s

ROOT = Path(__file__).resolve().parents[2]
Objects = list[dict[str, Any]]


def _find(objects: Objects, kind: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind)


def _container(objects: Objects) -> dict[str, Any]:
    return _find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _set_env(objects: Objects, name: str, value: str) -> None:
    env = _container(objects)["env"]
    env[:] = [v for v in env if v["name"] != name] + [{"name": name, "value": value}]


# (id, the check that must fail, how to break the reference, the finding's field, words its message contains)
BREAKS: list[tuple[str, str, Callable[[Objects], None], str, str]] = [
    (
        "no-cpu-request",
        "requests",
        lambda o: _container(o)["resources"]["requests"].pop("cpu"),
        "spec.template.spec.containers[0].resources.requests.cpu",
        "no cpu request",
    ),
    (
        "replicas-set",
        "no_replicas",
        lambda o: _find(o, "Deployment")["spec"].update(replicas=3),
        "spec.replicas",
        "resets the scale",
    ),
    (
        "readiness-wrong-port",
        "probes",
        lambda o: _container(o)["readinessProbe"]["httpGet"].update(port=9000),
        "spec.template.spec.containers[0].readinessProbe.httpGet.port",
        "listens on 8000",
    ),
    (
        "liveness-on-ready",
        "probes",
        lambda o: _container(o)["livenessProbe"]["httpGet"].update(path="/v2/health/ready"),
        "spec.template.spec.containers[0].livenessProbe.httpGet.path",
        "is not /v2/health/live",
    ),
    (
        "readiness-unknown-path",
        "probes",
        lambda o: _container(o)["readinessProbe"]["httpGet"].update(path="/healthz"),
        "spec.template.spec.containers[0].readinessProbe.httpGet.path",
        "'/healthz'",
    ),
    (
        "no-startup-probe",
        "probes",
        lambda o: _container(o).pop("startupProbe"),
        "spec.template.spec.containers[0].startupProbe",
        "no startupProbe",
    ),
    (
        "server-port-moved",
        "probes",
        lambda o: _set_env(o, "MODEL_SERVER_PORT", "9000"),
        "spec.template.spec.containers[0].ports",
        "listens on 9000",
    ),
    (
        "root-uid",
        "security_context",
        lambda o: _find(o, "Deployment")["spec"]["template"]["spec"]["securityContext"].update(runAsUser=0),
        "spec.template.spec.containers[0].securityContext.runAsUser",
        "non-root UID",
    ),
    (
        "other-uid",
        "security_context",
        lambda o: _find(o, "Deployment")["spec"]["template"]["spec"]["securityContext"].update(runAsUser=1000),
        "spec.template.spec.containers[0].securityContext.runAsUser",
        "not the image's user 10001",
    ),
    (
        "writable-root",
        "security_context",
        lambda o: _container(o)["securityContext"].update(readOnlyRootFilesystem=False),
        "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem",
        "must be true",
    ),
    (
        "capabilities-kept",
        "security_context",
        lambda o: _container(o)["securityContext"].pop("capabilities"),
        "spec.template.spec.containers[0].securityContext.capabilities.drop",
        '"ALL"',
    ),
    (
        "no-seccomp",
        "security_context",
        lambda o: _find(o, "Deployment")["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
        "spec.template.spec.containers[0].securityContext.seccompProfile.type",
        "RuntimeDefault",
    ),
    (
        "no-tmp-volume",
        "security_context",
        lambda o: _container(o).pop("volumeMounts"),
        "spec.template.spec.containers[0].volumeMounts",
        "emptyDir volume at /tmp",
    ),
    (
        "token-mounted",
        "security_context",
        lambda o: _find(o, "Deployment")["spec"]["template"]["spec"].pop("automountServiceAccountToken"),
        "spec.template.spec.automountServiceAccountToken",
        "needs no token",
    ),
    (
        "latest-tag",
        "image_tags",
        lambda o: _container(o).update(image="ai-hosting-labs/model-server:latest"),
        "spec.template.spec.containers[0].image",
        ":latest",
    ),
    (
        "no-tag",
        "image_tags",
        lambda o: _container(o).update(image="ai-hosting-labs/model-server"),
        "spec.template.spec.containers[0].image",
        "has no tag",
    ),
    (
        "hpa-target-missing",
        "hpa_target",
        lambda o: _find(o, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(name="model-srv"),
        "spec.scaleTargetRef",
        "Deployment/model-srv is not among",
    ),
    (
        "selector-matches-nothing",
        "service",
        lambda o: _find(o, "Service")["spec"].update(selector={"app.kubernetes.io/name": "model-srv"}),
        "spec.selector",
        "matches no workload",
    ),
    (
        "target-port-unknown",
        "service",
        lambda o: _find(o, "Service")["spec"]["ports"][0].update(targetPort="web"),
        "spec.ports[0].targetPort",
        "'web' is not a container port",
    ),
    (
        "nodeport-not-mapped",
        "nodeport",
        lambda o: _find(o, "Service")["spec"]["ports"][0].update(nodePort=30081),
        "spec.ports[0].nodePort",
        "30081 is not an extraPortMappings",
    ),
    (
        "nodeport-on-all-interfaces",
        "nodeport",
        lambda o: _find(o, "Cluster")["nodes"][0]["extraPortMappings"][0].update(listenAddress="0.0.0.0"),
        "spec.ports[0].nodePort",
        "not 127.0.0.1",
    ),
    (
        "grace-too-short",
        "drain",
        lambda o: _find(o, "Deployment")["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=15),
        "spec.template.spec.terminationGracePeriodSeconds",
        "= 20 s",
    ),
    (
        "drain-too-long",
        "drain",
        lambda o: _set_env(o, "MODEL_SERVER_DRAIN_SECONDS", "30"),
        "spec.template.spec.terminationGracePeriodSeconds",
        "drain 30 s",
    ),
    (
        "no-prestop",
        "drain",
        lambda o: _container(o).pop("lifecycle"),
        "spec.template.spec.containers[0].lifecycle.preStop",
        "no preStop",
    ),
    (
        "threads-above-limit",
        "threads",
        lambda o: _set_env(o, "MODEL_SERVER_INTRA_OP_THREADS", "4"),
        "spec.template.spec.containers[0].env[MODEL_SERVER_INTRA_OP_THREADS]",
        "4 intra-op threads on a 1-CPU limit",
    ),
    (
        "no-cpu-limit",
        "threads",
        lambda o: _container(o)["resources"]["limits"].pop("cpu"),
        "spec.template.spec.containers[0].resources.limits.cpu",
        "no CPU limit",
    ),
]


def test_every_policy_passes_on_the_reference(kind_objects: Objects) -> None:
    for name, check in k8s.CHECKS.items():
        assert check(kind_objects) == [], name


def test_cloud_overlay_passes_every_policy() -> None:
    assert k8s.check_all(k8s.render(ROOT / "k8s" / "overlays" / "cloud")) == []


def test_every_policy_has_a_break() -> None:
    assert {check for _, check, *_ in BREAKS} == set(k8s.CHECKS)


@pytest.mark.parametrize(("check", "breaks", "field", "words"), [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS])
def test_a_break_fails_exactly_its_check(
    kind_objects: Objects, check: str, breaks: Callable[[Objects], None], field: str, words: str
) -> None:
    broken = copy.deepcopy(kind_objects)
    breaks(broken)
    failed = {name: found for name, c in k8s.CHECKS.items() if (found := c(broken))}
    assert list(failed) == [check], failed
    finding = next((f for f in failed[check] if f.field == field), None)
    assert finding is not None, failed[check]
    assert finding.check == check
    assert finding.obj in {k8s.obj_name(o) for o in broken}
    assert words in finding.message, finding.message


def test_fixture_file_fails_its_checks() -> None:
    """A hand-written manifest as a learner might write it: each problem is named."""
    objects = k8s.load_yaml(Path(__file__).parent / "fixtures" / "naive-deployment.yaml")
    failed = {f.check for f in k8s.check_all(objects)}
    assert failed == {
        "requests",
        "no_replicas",
        "probes",
        "security_context",
        "image_tags",
        "service",
        "drain",
        "threads",
    }


def test_prestop_forms() -> None:
    assert k8s.prestop_seconds({"lifecycle": {"preStop": {"sleep": {"seconds": 7}}}}) == 7
    assert k8s.prestop_seconds({"lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 4"]}}}}) == 4
    assert k8s.prestop_seconds({"lifecycle": {"preStop": {"exec": {"command": ["/bin/sleep", "3"]}}}}) == 3
    assert k8s.prestop_seconds({"lifecycle": {"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}}) is None


def test_server_setting_precedence() -> None:
    container = {"args": ["--drain-seconds=2"], "env": [{"name": "MODEL_SERVER_DRAIN_SECONDS", "value": "9"}]}
    assert k8s.server_setting(container, "drain_seconds") == "2"
    assert k8s.server_setting({"env": container["env"]}, "drain_seconds") == "9"
    assert k8s.server_setting({}, "request_timeout_s") == 10.0


def test_image_repository() -> None:
    assert (
        k8s.image_repository("REGISTRY:5000/ai-hosting-labs/model-server:v1")
        == "REGISTRY:5000/ai-hosting-labs/model-server"
    )
    assert k8s.image_repository("ai-hosting-labs/model-server@sha256:ab") == "ai-hosting-labs/model-server"
    assert re.fullmatch(r"\d+", str(k8s.SERVER_UID))


SOLUTION = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION \(lab (?P<lab>\d\d)\): (?P<todo>.*?)\n.*?^[ \t]*# END SOLUTION\n", re.M | re.S
)


def test_student_edition_renders_but_fails_the_checks(tmp_path: Path) -> None:
    """Strip the solution regions as `grader release` does (the brief's contract): the manifests still render and
    validate, and the checks of labs 04 and 05 fail on what the learner has to write."""
    k8s_copy = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", k8s_copy)
    labs = set()
    for path in (k8s_copy / "base").glob("*.yaml"):
        text = path.read_text()
        labs |= {m["lab"] for m in SOLUTION.finditer(text)}
        path.write_text(SOLUTION.sub(lambda m: f"{m['indent']}# TODO (lab {m['lab']}): {m['todo']}\n", text))
        assert "SOLUTION" not in path.read_text(), f"unbalanced solution markers in {path.name}"
    assert labs == {"04", "05"}
    objects = k8s.render(k8s_copy / "overlays" / "kind") + k8s.load_yaml(k8s_copy / "kind-cluster.yaml")
    assert k8s.validate(objects) == []
    failed = {f.check for f in k8s.check_all(objects)}
    assert failed == {"requests", "probes", "security_context", "service", "threads"}
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert "behavior" not in hpa["spec"]
