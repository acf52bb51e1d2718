"""Core pinning uses the cores this process may really use, and pins nothing where the platform cannot."""

from __future__ import annotations

import os

import pytest

from loadtest.studies.tradeoffs import Cores
from model_server import cpus


def test_studies_pin_to_the_cores_the_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7, 4, 9})  # e.g. a container's cpuset
    assert cpus.pinnable_cores() == [4, 7, 9]
    cores = Cores.plan()
    assert (cores.server, cores.both, cores.generator) == ("4", "4,7", 7)
    assert "core 4" in cores.note() and "core 7" in cores.note()


def test_one_usable_core_pins_nothing(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    cores = Cores.plan()
    assert cores.generator is None and "fewer than 2 usable cores" in cores.note()


def test_on_macos_nothing_is_pinned_and_nothing_crashes(monkeypatch):
    for name in ("sched_getaffinity", "sched_setaffinity"):  # macOS has neither
        monkeypatch.delattr(os, name, raising=False)
    assert cpus.pinnable_cores() is None
    with cpus.pinned(0) as was_pinned:
        assert was_pinned is False
    assert "this platform cannot pin" in Cores.plan().note()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_pinned_restores_the_previous_cores():
    before = os.sched_getaffinity(0)
    core = min(before)
    with cpus.pinned(core) as was_pinned:
        assert was_pinned and os.sched_getaffinity(0) == {core}
    assert os.sched_getaffinity(0) == before
