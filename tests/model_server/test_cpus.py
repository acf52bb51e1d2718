"""CPU quota detection from cgroup files (v2 and v1), which decides onnxruntime's default thread count."""

import os

import pytest

from model_server.cpus import available_cpus, cgroup_cpu_quota, usable_cores


def test_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5


def test_v2_unlimited(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None


@pytest.mark.parametrize("controller", ["cpu", "cpu,cpuacct"])
def test_v1_quota(tmp_path, controller):
    folder = tmp_path / controller
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text("50000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 0.5


def test_v1_unlimited(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_available_cpus_rounds_quota_up_and_caps_at_affinity(tmp_path):
    cores = len(usable_cores())
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert available_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{(cores + 4) * 100000} 100000\n")
    assert available_cpus(tmp_path) == cores
    assert available_cpus(tmp_path / "missing") == cores


def test_without_affinity_api_as_on_macos(tmp_path, monkeypatch):
    """macOS has no os.sched_getaffinity: the CPU count stands in for the mask, the quota still caps it."""
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert usable_cores() == list(range(8))
    assert available_cpus(tmp_path / "missing") == 8
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    assert available_cpus(tmp_path) == 2
