"""Checks a target before loading it, so a bad target fails with one line, not a traceback."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit


class TargetError(Exception):
    """A one-line reason why the target cannot be load-tested."""


def _get(url: str, timeout: float) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise TargetError(f"cannot connect to {url}: connection refused (is the server running?)") from None
        raise TargetError(f"cannot connect to {url}: {reason}") from None
    except TimeoutError:
        raise TargetError(f"no answer from {url} within {timeout:g} s") from None
    except (ConnectionError, OSError) as exc:
        raise TargetError(f"cannot connect to {url}: {exc}") from None


def _json(url: str, content_type: str, body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        snippet = body[:60].decode("utf-8", "replace").replace("\n", " ")
        raise TargetError(f"{url} answered non-JSON ({content_type or 'no content type'}): {snippet!r}") from None
    if not isinstance(data, dict):
        raise TargetError(f"{url} answered JSON that is not an object")
    return data


def check_host(host: str) -> str:
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"--host must look like http://127.0.0.1:8000, got {host!r}")
    return host.rstrip("/")


def check_target(host: str, models: list[tuple[str, str | None]], timeout: float = 5.0) -> dict[str, dict]:
    """Server ready and every (model, version) known. Returns each model's metadata."""
    host = check_host(host)
    url = f"{host}/v2/health/ready"
    status, _, _ = _get(url, timeout)
    if status == 404:
        raise TargetError(f"wrong path: GET {url} answered 404 (is --host the model server root?)")
    if status != 200:
        raise TargetError(f"target not ready: GET {url} answered {status}")
    metadata = {}
    for model, version in models:
        url = f"{host}/v2/models/{model}" + (f"/versions/{version}" if version else "")
        status, ctype, body = _get(url, timeout)
        data = _json(url, ctype, body)
        if status == 404:
            raise TargetError(
                f"model {model!r}{' version ' + version if version else ''} not found: "
                f"GET {url} answered 404 ({data.get('error', 'no reason given')})"
            )
        if status != 200:
            raise TargetError(f"GET {url} answered {status}: {data.get('error', '')}".rstrip(": "))
        metadata[model] = data
    return metadata


def wait_ready(host: str, timeout: float, alive=lambda: True) -> None:
    """Polls readiness until 200; bounded by `timeout`. `alive` lets a caller stop early when the
    server process it started has died."""
    deadline = time.monotonic() + timeout
    url = f"{check_host(host)}/v2/health/ready"
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise TargetError(f"server exited before it was ready ({last})")
        try:
            status, _, _ = _get(url, timeout=2.0)
            if status == 200:
                return
            last = f"HTTP {status}"
        except TargetError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise TargetError(f"{url} not ready after {timeout:g} s (last: {last})")
