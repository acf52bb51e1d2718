"""Compose policies: pure functions over the parsed docker-compose.yml (and nginx.conf's upstream), each returning
Findings; and `vet`, what Compose would do on the grading host itself (refused before the grader starts a stack)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from grader.policies.findings import Finding

COMPOSE = "docker-compose.yml"
NGINX = "docker/lb/nginx.conf"
SERVER, LB = "model-server", "lb"
_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}")


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


def _outside(src: str, root: Path) -> bool:
    return src.startswith(("/", "~", "..")) or not (root / src).resolve().is_relative_to(root)


def vet(compose: dict, root: Path) -> list[str]:
    """What Compose would do on the grading host itself: privileges, host namespaces, and files read from
    outside the submission (mounts, env files, secrets, configs, extends, include)."""
    problems = []
    for key in ("secrets", "configs"):
        for name, spec in (compose.get(key) or {}).items():
            if isinstance(spec, dict) and spec.get("file") and _outside(str(spec["file"]), root):
                problems.append(f"{key[:-1]} {name} reads {spec['file']} from outside the submission")
    for inc in compose.get("include") or []:
        problems.append(f"include {inc}: put everything in one file; the grader does not read others")
    for name, svc in services(compose).items():
        env_files = svc.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str | dict) else env_files:
            src = str(env_file.get("path", "") if isinstance(env_file, dict) else env_file)
            if _outside(src, root):
                problems.append(f"service {name} reads env_file {src} from outside the submission")
        if isinstance(svc.get("extends"), dict) and svc["extends"].get("file"):
            problems.append(f"service {name} extends another file; the grader does not read others")
        for key in ("privileged", "devices", "cap_add", "pid", "ipc", "userns_mode", "cgroup_parent"):
            if svc.get(key):
                problems.append(f"service {name} sets {key}; the grader does not start it")
        if str(svc.get("network_mode", "")).startswith(("host", "container:", "service:")):
            problems.append(f"service {name} uses network_mode {svc['network_mode']}")
        for vol in svc.get("volumes") or []:
            src = vol.get("source", "") if isinstance(vol, dict) else str(vol).split(":")[0]
            if src.startswith(("/", "~", "..")) or (src.startswith(".") and _outside(src, root)):
                problems.append(f"service {name} mounts {src} from outside the submission")
    return problems
