"""Starts and stops a local `python -m model_server` process on a free loopback port."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from loadtest import preflight

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: the server gets SIGTERM if this process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalServer:
    """Context manager: start, wait until ready (bounded), always stop by PID.

    `cpus` ("0" or "0,1") pins the server with taskset, so a load generator on other cores does not
    steal its CPU time while measuring."""

    def __init__(
        self,
        model_repository: Path,
        args: list[str] | None = None,
        cpus: str | None = None,
        log_path: Path | None = None,
        ready_timeout: float = 120.0,
        module: str = "model_server",
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        ready_path: str = "/v2/health/ready",
    ) -> None:
        self.module = module  # loadtest.studies.naive_server for the benchmark's baseline
        self.python = python  # a peer server's virtualenv (bench-peers)
        self.env = env
        self.ready_path = ready_path  # Triton is ready before its models are: a peer is waited for on its model
        self.model_repository = model_repository
        self.args = args or []
        self.cpus = cpus if cpus and shutil.which("taskset") else None
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def returncode(self) -> int | None:
        """Exit code once stopped; None while running or before start."""
        return self.proc.poll() if self.proc else None

    def command(self) -> list[str]:
        cmd = [
            self.python,
            "-m",
            self.module,
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--model-repository",
            str(self.model_repository),
            *self.args,
        ]
        return ["taskset", "-c", self.cpus, *cmd] if self.cpus else cmd

    def start(self) -> LocalServer:
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") if self.log_path else open(os.devnull, "wb") as log:
            proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, env=self.env
            )
        self.proc = proc
        try:
            preflight.wait_ready(self.url, self.ready_timeout, alive=lambda: proc.poll() is None, path=self.ready_path)
        except preflight.TargetError as exc:
            self.stop()
            hint = f"; see {self.log_path}" if self.log_path else ""
            raise preflight.TargetError(f"model server did not start: {exc}{hint}") from None
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful drain), then SIGKILL if it has not exited within `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
