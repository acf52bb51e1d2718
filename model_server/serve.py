"""Run the app under uvicorn, with a graceful drain on SIGTERM.

Start-up problems come first and end the process with one line: the listening socket is bound (so a port in
use or an unresolvable --host is reported) before any model is read, and a model that fails to load stops
the server instead of leaving it alive and unready.

Kubernetes and Compose send SIGTERM, then stop routing to the replica a moment later. So on the first
SIGTERM (or SIGINT) readiness turns 503 at once, the server keeps serving for `drain_seconds`, then stops
accepting, finishes the requests in flight and exits 0. A second signal skips the drain.
"""

import errno
import logging
import math
import signal
import socket
import threading
from types import FrameType

import uvicorn

from model_server.app import create_app
from model_server.config import Settings
from model_server.slow_clients import slow_client_protocol
from model_server.state import ServerState

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The server cannot start or keep running: port, host or model; reported as one line, exit code 2."""


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float, state: ServerState) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.draining = False
        self.state = state
        state.on_load_failure = self.stop_now

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would re-raise the signal after shutdown, and the exit code would not be 0.
        if self.draining:
            log.info("second %s: stopping now", signal.Signals(sig).name)
            self.stop_now()
            return
        self.draining = True
        self.state.draining = True
        log.info("%s: readiness off, draining for %.1f s", signal.Signals(sig).name, self.drain_seconds)
        timer = threading.Timer(self.drain_seconds, self.stop_now)
        timer.daemon = True
        timer.start()

    def stop_now(self) -> None:
        self.should_exit = True  # uvicorn's main loop checks it every 0.1 s, then shuts down gracefully


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that address problems show before any model is read."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn does: "localhost" means IPv4
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0][4]
    except socket.gaierror as exc:
        raise StartupError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart may reuse a port in TIME_WAIT
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        hint = ": another process listens there; stop it or choose another --port" if in_use else ""
        raise StartupError(f"cannot listen on {host}:{port} ({exc.strerror}){hint}") from None
    return sock


def serve(settings: Settings) -> None:
    sock = bind(settings.host, settings.port)
    try:
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            http=slow_client_protocol(settings.header_timeout_s, settings.body_timeout_s),
            log_config=None,
            access_log=settings.access_log,
            timeout_graceful_shutdown=math.ceil(max(settings.request_timeout_s, 1.0)),
        )
        state: ServerState = app.state.server
        DrainingServer(config, settings.drain_seconds, state).run(sockets=[sock])
    finally:
        sock.close()
    if state.load_error:
        raise StartupError(state.load_error)
