"""Check functions registered by name; lab.yaml files refer to them.

Modules are grouped by what they inspect and imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from grader.verdict import Verdict

CheckFn = Callable[..., Verdict]
# Function-name prefix -> the modules that register it; a lab imports only what its checks use.
_MODULES = {
    "quiz": ("quiz",),
    "tools": ("tools",),
    "client": ("client", "live_client"),
    "dockerfile": ("dockerfile",),
    "container": ("live_container",),
    "compose": ("compose", "live_compose"),
    "k8s": ("manifests",),
    "cluster": ("live_cluster",),
    "hpa": ("hpa_prediction",),
    "results": ("loadtest_results",),
    "decision": ("decision",),
    "cards": ("cards",),
}
_REGISTRY: dict[str, CheckFn] = {}


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY:
            raise ValueError(f"check function {name} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def _load(prefix: str | None = None) -> None:
    groups = [_MODULES.get(prefix, ())] if prefix else list(_MODULES.values())
    for group in groups:
        for module in group:
            importlib.import_module(f"grader.checks.{module}")


def names() -> set[str]:
    _load()
    return set(_REGISTRY)


def known(name: str) -> bool:
    _load(name.split(".", 1)[0])
    return name in _REGISTRY


def get(name: str) -> Callable[..., Any]:
    _load(name.split(".", 1)[0])
    return _REGISTRY[name]
