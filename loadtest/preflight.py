"""Checks a target before loading it, so a bad target fails with one line, not a traceback."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from loadtest.payloads import InputSpec

T = TypeVar("T")


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


def wants_columns(metadata: dict) -> bool:
    """Whether the model declares one-value-per-row tensors as columns, [-1, 1]: Triton gives every tensor at
    least one dimension besides the batch, where ours and MLServer declare [-1]. The load then follows suit."""
    tensors = [*(metadata.get("inputs") or []), *(metadata.get("outputs") or [])]
    return any(isinstance(t, dict) and t.get("shape") == [-1, 1] for t in tensors)


def check_fit(profile: str, model: str, metadata: dict, sends: InputSpec) -> None:
    """The model takes what the profile sends (name, datatype, shape), so a mismatch is refused before
    the run rather than turning every request into an HTTP 400."""
    inputs = metadata.get("inputs") or []
    takes = [
        InputSpec(str(i.get("name")), str(i.get("datatype")), tuple(int(d) for d in i.get("shape", [])))
        for i in inputs
        if isinstance(i, dict)
    ]

    def fits(spec: InputSpec) -> bool:
        return (
            spec.name == sends.name
            and spec.datatype == sends.datatype
            and len(spec.shape) == len(sends.shape)
            and all(a == b or -1 in (a, b) for a, b in zip(spec.shape, sends.shape, strict=True))
        )

    if len(takes) != 1 or not fits(takes[0]):
        declared = ", ".join(t.describe() for t in takes) or "no inputs"
        raise TargetError(
            f"--profile {profile} sends {sends.describe()}, but model {model!r} takes {declared}: "
            "choose the profile made for this model (digits for digits models, minilm for text models)"
        )


def poll(probe: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T | None:
    """Calls `probe` until it returns something other than None, for at most `timeout` seconds;
    returns that, or None when time ran out. The one waiting loop of the project: servers and
    containers are waited for with a deadline, never with a fixed sleep. `probe` may raise to stop early."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() + interval > deadline:
            return None
        time.sleep(interval)


def wait_ready(
    host: str, timeout: float, alive: Callable[[], bool] = lambda: True, path: str = "/v2/health/ready"
) -> None:
    """Polls readiness (`path`) until 200; bounded by `timeout`. `alive` lets a caller stop early when the
    server process it started has died."""
    url = f"{check_host(host)}{path}"
    last = "no answer"

    def ready() -> bool | None:
        nonlocal last
        if not alive():
            raise TargetError(f"server exited before it was ready ({last})")
        try:
            status, _, _ = _get(url, timeout=2.0)
        except TargetError as exc:
            last = str(exc)
            return None
        last = f"HTTP {status}"
        return True if status == 200 else None

    if poll(ready, timeout) is None:
        raise TargetError(f"{url} not ready after {timeout:g} s (last: {last})")
