"""Lab 03: the Compose file (schema + policy) and the nginx load balancer's upstream.

The schema is the Compose spec that check-jsonschema vendors, the same one `make lint-docker`
validates against; the policies are pure functions over the parsed file.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from grader.catalog import register
from grader.checks.findings import Finding
from grader.context import Context
from grader.verdict import Fail, Skip, Verdict

COMPOSE = "docker-compose.yml"
NGINX = "docker/lb/nginx.conf"
SERVER, LB = "model-server", "lb"
_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}")


@cache
def compose_schema() -> dict:
    """check-jsonschema's vendored Compose spec, read from its package folder (importing the package costs 0.2 s)."""
    found = importlib.util.find_spec("check_jsonschema")
    if found is None or not found.submodule_search_locations:
        raise Skip("check-jsonschema is not installed", "make setup")
    folder = Path(next(iter(found.submodule_search_locations)))
    return json.loads((folder / "builtin_schemas/vendor/compose-spec.json").read_text())


def interpolate(value: str) -> str:
    """Compose variables resolved to their defaults (what the file means with nothing set)."""
    return _DEFAULT.sub(lambda m: m.group(1) or "", value)


def services(compose: Any) -> dict[str, dict]:
    found = compose.get("services") if isinstance(compose, dict) else None
    return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def _f(check: str, service: str, field: str, message: str) -> Finding:
    return Finding(check, f"service/{service}", field, message)


def check_lb(compose: dict) -> list[Finding]:
    by_name = services(compose)
    if SERVER not in by_name:
        return [_f("lb", SERVER, "services", f"no `{SERVER}` service: the replicas are missing")]
    lb = by_name.get(LB)
    if lb is None:
        return [
            _f(
                "lb",
                LB,
                "services",
                f"no `{LB}` service: put the nginx load balancer (build: docker/lb) in front of {SERVER}",
            )
        ]
    deps = lb.get("depends_on") or {}
    if SERVER not in deps:
        return [_f("lb", LB, "depends_on", f"{LB} does not depend on {SERVER}; start the replicas first")]
    if isinstance(deps, dict) and (deps.get(SERVER) or {}).get("condition") != "service_healthy":
        return [
            _f(
                "lb",
                LB,
                f"depends_on.{SERVER}.condition",
                "use condition: service_healthy so nginx starts after the replicas are ready",
            )
        ]
    return []


def check_replicas(compose: dict, minimum: int = 2) -> list[Finding]:
    """The server can run as several replicas: no fixed name, no published port (the lb is the entry)."""
    server = services(compose).get(SERVER)
    if server is None:
        return [_f("replicas", SERVER, "services", f"no `{SERVER}` service")]
    out = []
    if "container_name" in server:
        out.append(
            _f("replicas", SERVER, "container_name", "a fixed container_name allows one replica only; remove it")
        )
    if server.get("ports"):
        out.append(
            _f(
                "replicas",
                SERVER,
                "ports",
                "published ports collide between replicas and bypass the lb; use `expose` instead",
            )
        )
    declared = (server.get("deploy") or {}).get("replicas", server.get("scale"))
    if declared is not None:
        try:
            count = int(interpolate(str(declared)))
        except ValueError:
            count = 0
        if count < minimum:
            out.append(_f("replicas", SERVER, "deploy.replicas", f"{declared} replica(s); run at least {minimum}"))
    return out


def _host_ip(port: Any) -> str | None:
    if isinstance(port, dict):
        return str(port.get("host_ip")) if port.get("host_ip") else None
    parts = interpolate(str(port)).split(":")
    return parts[0] if len(parts) == 3 else None


def check_loopback_ports(compose: dict) -> list[Finding]:
    out = []
    for name, svc in services(compose).items():
        for port in svc.get("ports") or []:
            ip = _host_ip(port)
            if ip not in ("127.0.0.1", "::1", "[::1]"):
                out.append(
                    _f(
                        "loopback_ports",
                        name,
                        "ports",
                        f'{port!r} listens on every interface; publish on 127.0.0.1 only ("127.0.0.1:8080:8080")',
                    )
                )
    return out


def check_healthchecks(compose: dict) -> list[Finding]:
    out = []
    by_name = services(compose)
    for name in (SERVER, LB):
        hc = (by_name.get(name) or {}).get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test") or hc.get("test") in (["NONE"], "NONE"):
            out.append(
                _f(
                    "healthchecks",
                    name,
                    "healthcheck",
                    f"{name} has no healthcheck; add a test that asks its health endpoint",
                )
            )
    return out


def check_nginx_upstream(conf: str) -> list[Finding]:
    text = re.sub(r"#[^\n]*", "", conf)
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", text))
    target = [n for n, body in upstreams.items() if re.search(rf"\bserver\s+{SERVER}(:8000)?\b", body)]
    if not target:
        return [
            Finding(
                "nginx_upstream",
                "nginx.conf",
                "upstream",
                f"no upstream block with `server {SERVER}:8000`: nginx has no replicas to balance",
            )
        ]
    if not re.search(rf"proxy_pass\s+http://({'|'.join(map(re.escape, target))})\s*;", text):
        return [
            Finding(
                "nginx_upstream",
                "nginx.conf",
                "proxy_pass",
                f"nothing proxies to upstream {target[0]}: add `proxy_pass http://{target[0]};`",
            )
        ]
    return []


POLICIES = {
    "lb": check_lb,
    "replicas": check_replicas,
    "loopback_ports": check_loopback_ports,
    "healthchecks": check_healthchecks,
}


def _load(ctx: Context, path: str) -> dict:
    data = ctx.yaml(path)
    if not isinstance(data, dict):
        raise Fail(f"{path} must be a mapping with `services:`; found {type(data).__name__}")
    return data


@register("compose.schema")
def schema(ctx: Context, path: str = COMPOSE) -> Verdict:
    import jsonschema

    validator = jsonschema.validators.validator_for(compose_schema())(compose_schema())
    errors = sorted(validator.iter_errors(_load(ctx, path)), key=lambda e: list(e.absolute_path))
    problems = [f"{path} {'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message[:300]}" for e in errors[:5]]
    return Verdict(problems, info="matches the Compose specification")


@register("compose.policy")
def policy(ctx: Context, rule: str, path: str = COMPOSE) -> Verdict:
    findings = POLICIES[rule](_load(ctx, path))
    return Verdict([f"{path} {f.obj} {f.field}: {f.message}" for f in findings], info=f"{path}: {rule} rule holds")


@register("compose.nginx_upstream")
def nginx_upstream(ctx: Context, path: str = NGINX) -> Verdict:
    findings = check_nginx_upstream(ctx.text(path))
    return Verdict([f"{path} {f.field}: {f.message}" for f in findings], info=f"{path} balances over {SERVER}")
