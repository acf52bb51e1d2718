"""The rendered pod spec, run under Docker as the kubelet would (grader/ops/podspec.py): the reference starts, serves
through the Service's target port and stops cleanly under load; broken specs are caught."""

import copy
from typing import Any

import pytest

from grader.ops import podspec
from grader.policies import kubernetes as k8s

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_translation_keeps_the_pod_spec(kind_objects: list[dict]) -> None:
    pod = podspec.plan(kind_objects, "img:1")
    command = podspec.docker_run_command(pod, "n", {8000: 18000})
    joined = " ".join(command)
    for expected in (
        "--user 10001:10001",
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--tmpfs /tmp:rw,mode=1777,size=67108864",
        "--cpus 1",
        f"--memory {768 * 2**20}",
        "--env MODEL_SERVER_INTRA_OP_THREADS=1",
        "--stop-timeout 30",
        "--publish 127.0.0.1:18000:8000",
    ):
        assert expected in joined
    assert command[-1] == "img:1"
    assert pod.service_port == 8000
    assert pod.pre_stop == ["sleep", "5"]
    assert pod.probes["startupProbe"].failure_threshold == 30


def test_reference_pod_runs_like_the_kubelet_would(server_image: str, kind_objects: list[dict]) -> None:
    report = podspec.run_pod(podspec.plan(kind_objects, server_image))
    assert report.problems == [], report.logs_tail
    assert report.inference_status == 200
    assert report.drain_requests_ok > 0
    assert report.drain_requests_lost == []
    assert report.readiness_off_after_sigterm
    assert report.exit_code == 0
    assert report.stop_s < report.grace_s


def test_probe_on_the_wrong_port_is_caught(server_image: str, kind_objects: list[dict]) -> None:
    objects = copy.deepcopy(kind_objects)
    container = _container(objects)
    container["ports"].append({"name": "metrics", "containerPort": 9090})
    container["startupProbe"] = {
        "httpGet": {"path": k8s.READY_PATH, "port": 9090},
        "periodSeconds": 1,
        "failureThreshold": 3,
    }
    report = podspec.run_pod(podspec.plan(objects, server_image))
    assert any("startupProbe on /v2/health/ready:9090 failed 3 times" in p for p in report.problems), report.problems


def test_unusable_model_repository_is_caught(server_image: str, kind_objects: list[dict]) -> None:
    objects = copy.deepcopy(kind_objects)
    _container(objects)["env"].append({"name": "MODEL_SERVER_MODEL_REPOSITORY", "value": "/tmp/models"})
    report = podspec.run_pod(podspec.plan(objects, server_image))
    assert any("exited during startup" in p for p in report.problems), report.problems


def test_grace_period_shorter_than_the_drain_is_caught(server_image: str, kind_objects: list[dict]) -> None:
    objects = copy.deepcopy(kind_objects)
    next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 7
    report = podspec.run_pod(podspec.plan(objects, server_image))
    assert report.killed_at_grace
    assert any("SIGKILLed" in p for p in report.problems), report.problems
