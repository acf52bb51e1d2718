"""Check functions registered by name; lab.yaml files refer to them.

A check id's prefix names its module (`compose.policy` is registered in grader.checks.compose), imported on first
use: a lab imports only what its checks use.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from typing import Any

from grader import checks
from grader.verdict import Verdict

CheckFn = Callable[..., Verdict]
_REGISTRY: dict[str, CheckFn] = {}


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY:
            raise ValueError(f"check function {name} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def _load(prefix: str | None = None) -> None:
    if prefix is None:
        for module in pkgutil.iter_modules(checks.__path__):
            importlib.import_module(f"{checks.__name__}.{module.name}")
    elif prefix.isidentifier() and importlib.util.find_spec(f"{checks.__name__}.{prefix}"):
        importlib.import_module(f"{checks.__name__}.{prefix}")


def names() -> set[str]:
    _load()
    return set(_REGISTRY)


def known(name: str) -> bool:
    _load(name.split(".", 1)[0])
    return name in _REGISTRY


def get(name: str) -> Callable[..., Any]:
    _load(name.split(".", 1)[0])
    return _REGISTRY[name]
