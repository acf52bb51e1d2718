"""YAML from submissions: PyYAML's safe loader, refusing documents whose aliases expand past a bound.

A "billion laughs" document is small and parses fast (aliases share nodes), but anything that walks the
result (str(), json, a comparison) expands it exponentially, holding the interpreter lock while it does.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 100_000


def _expanded(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes in the tree once every alias is expanded, counted without expanding (stops past MAX_NODES)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded(child, memo)
        if total > MAX_NODES:
            break
    memo[id(node)] = total
    return total


class BoundedLoader(yaml.SafeLoader):
    def construct_document(self, node: yaml.Node) -> Any:
        if _expanded(node, {}) > MAX_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"aliases expand to more than {MAX_NODES} values (a YAML bomb?)", node.start_mark
            )
        return super().construct_document(node)


def load(text: str) -> Any:
    return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader subclass


def load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=BoundedLoader))  # a SafeLoader subclass
