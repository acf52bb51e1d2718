"""Lab 01: the learner's stdlib HTTP client, read without running it (its live run is in live_client)."""

from __future__ import annotations

import ast
import sys

from grader.catalog import register
from grader.context import Context
from grader.verdict import Fail, Verdict

SIGNATURES = {"infer_v2": ["base_url", "model", "rows"], "predict_v1": ["base_url", "model", "rows"], "main": None}
ENDPOINTS = {
    "/v2/models/": "the v2 infer route POST /v2/models/{model}/infer",
    "/infer": "the v2 infer route POST /v2/models/{model}/infer",
    ":predict": "the v1 route POST /v1/models/{model}:predict",
    "/metrics": "GET /metrics (queue and inference time)",
}


def parse(ctx: Context, rel: str) -> ast.Module:
    source = ctx.text(rel)
    try:
        return ast.parse(source, filename=rel)
    except SyntaxError as exc:
        raise Fail(f"{rel} does not parse: {exc.msg} at line {exc.lineno}") from None


def _stub(fn: ast.FunctionDef) -> bool:
    """A body that is only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body:
        return True
    if len(body) == 1 and isinstance(body[0], ast.Pass):
        return True
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        exc = body[0].exc
        name = exc.func if isinstance(exc, ast.Call) else exc
        return isinstance(name, ast.Name) and name.id == "NotImplementedError"
    return False


@register("client.structure")
def structure(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    found = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    problems = []
    for name, params in SIGNATURES.items():
        fn = found.get(name)
        if fn is None:
            problems.append(f"{path} has no top-level function {name}(); define it")
            continue
        args = [a.arg for a in fn.args.args]
        if params is not None and args[: len(params)] != params:
            problems.append(f"{name}({', '.join(args)}) should take ({', '.join(params)})")
        if _stub(fn):
            problems.append(f"{name}() is still a stub (pass / NotImplementedError); implement it")
    return Verdict(problems=problems, info="infer_v2, predict_v1 and main are defined")


@register("client.stdlib_only")
def stdlib_only(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    outside = sorted(m for m in mods if m not in sys.stdlib_module_names)
    if outside:
        return Verdict([f"{path} imports {', '.join(outside)}: use only the standard library (urllib.request, json)"])
    return Verdict(info=f"imports only the standard library ({', '.join(sorted(mods))})")


@register("client.endpoints")
def endpoints(ctx: Context, path: str = "labs/01-serve/client.py") -> Verdict:
    tree = parse(ctx, path)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    strings = " ".join(
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    )
    missing = {desc for frag, desc in ENDPOINTS.items() if frag not in strings}
    return Verdict([f"{path} never names {d}" for d in sorted(missing)], info="names the v2, v1 and metrics routes")
