"""Layout rules read from the source with ast (no imports, no mocks): the load-testing harness does not
depend on the model server, and no module reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "loadtest"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute names of the modules `path` imports (`from a import b` counts as a and a.b)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def harness_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "studies" not in p.relative_to(PACKAGE).parts}


def reaches_model_server(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """The import chain from `start` to model_server, following loadtest modules; None if there is none."""
    seen, stack = {start}, [[start]]
    while stack:
        chain = stack.pop()
        for name in graph.get(chain[-1], set()):
            if name == "model_server" or name.startswith("model_server."):
                return [*chain, name]
            if name in graph and name not in seen:
                seen.add(name)
                stack.append([*chain, name])
    return None


def test_the_harness_does_not_import_model_server():
    every = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    # The CLI dispatches to the studies inside its commands; what it imports at module level is the harness.
    graph = {name: imports(path, top_level_only=name == "loadtest.__main__") for name, path in every.items()}
    harness = harness_modules()
    assert {"loadtest.runner", "loadtest.local_server", "loadtest.preflight", "loadtest.__main__"} <= set(harness)
    chains = {name: chain for name in harness if (chain := reaches_model_server(name, graph))}
    assert not chains, f"the harness imports model_server: {chains}"


def test_the_checker_sees_an_indirect_import():
    graph = {"loadtest.a": {"loadtest.b"}, "loadtest.b": {"model_server.repository"}}
    assert reaches_model_server("loadtest.a", graph) == ["loadtest.a", "loadtest.b", "model_server.repository"]


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "model_server" / "builders").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        modules = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] in ("loadtest", "model_server")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                offenders += [
                    f"{path.name}: from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")
                ]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert not offenders, offenders
