"""Run the app under uvicorn, with a graceful drain on SIGTERM.

Start-up problems come first and end the process with one line: the listening socket is bound (so a port in
use or an unresolvable --host is reported) before any model is read, and a model that fails to load stops
the server instead of leaving it alive and unready.

Kubernetes and Compose send SIGTERM, then stop routing new connections to the replica a moment later; the
connections a client already holds (keep-alive) still reach it. So on the first SIGTERM (or SIGINT) readiness
turns 503 at once and every answer from then on says `Connection: close` (the client reconnects, and a load
balancer sends the new connection elsewhere); the server keeps accepting for `drain_seconds`, long enough for
load balancers to notice, then stops accepting, finishes the requests in flight, lets each idle connection
end without closing it under a request (see model_server.connections) and exits 0. A second signal skips the
drain and closes idle connections at once; a third stops waiting for anything.
"""

import asyncio
import contextlib
import ctypes
import errno
import logging
import math
import signal
import socket
import struct
import sys
import threading
from types import FrameType

import uvicorn

from model_server.app import create_app
from model_server.config import Settings
from model_server.connections import Drain, GuardedProtocol, Limits, guarded_protocol
from model_server.state import ServerState

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The server cannot start or keep running: port, host or model; reported as one line, exit code 2."""


# uvicorn closes an idle keep-alive connection after this many seconds (its default, stated here because the
# shutdown waits for it).
KEEP_ALIVE_S = 5


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float, state: ServerState, drain: Drain) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.state = state
        self.drain = drain
        self.loop: asyncio.AbstractEventLoop | None = None
        state.on_load_failure = lambda: self.stop_now(hurry=True)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would re-raise the signal after shutdown, and the exit code would not be 0.
        name = signal.Signals(sig).name
        if self.should_exit:
            log.info("%s again: not waiting for connections any more", name)
            self.force_exit = True
        elif self.state.draining:
            log.info("second %s: stopping now", name)
            self.stop_now(hurry=True)
        else:
            self.state.draining = True  # readiness off
            log.info("%s: readiness off, answers say Connection: close, draining %.1f s", name, self.drain_seconds)
            if self.loop is not None:  # connections are touched on the event loop's turn, not inside a signal handler
                self.loop.call_soon_threadsafe(self._close_after_responses)
            timer = threading.Timer(self.drain_seconds, self.stop_now)
            timer.daemon = True
            timer.start()

    def _close_after_responses(self) -> None:
        self.drain.draining = True
        for connection in list(self.server_state.connections):
            if isinstance(connection, GuardedProtocol):  # always, with http=guarded_protocol(...)
                connection.close_after_response()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Closing a listening socket resets the connections still queued in it, whose clients may have sent a
        # request already. So a duplicate keeps the socket (and its queue) alive while uvicorn stops serving it;
        # what is queued is then accepted and answered, and the socket closed the moment the queue is empty.
        spares = [] if self.drain.hurry else [sock.dup() for sock in sockets or []]
        for server in self.servers:
            server.close()
        for spare in spares:
            await self._accept_queued(spare)
        await super().shutdown(sockets)

    async def _accept_queued(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        drop_new_handshakes(listener)
        try:
            while True:
                try:
                    connection, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    return  # empty, and nothing new can join it: closed at once
                await loop.connect_accepted_socket(self._protocol, connection)
        finally:
            listener.close()

    def _protocol(self) -> asyncio.Protocol:
        """A connection's protocol, as uvicorn makes it for the connections it accepts."""
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    def stop_now(self, hurry: bool = False) -> None:
        self.drain.hurry = self.drain.hurry or hurry
        self.should_exit = True  # uvicorn's main loop checks it every 0.1 s, then shuts down gracefully


SO_ATTACH_FILTER = 26  # Linux; Python's socket module does not name it
DROP_ALL = struct.pack("HBBI", 0x06, 0, 0, 0)  # one classic BPF instruction: BPF_RET|BPF_K 0, keep 0 bytes


def drop_new_handshakes(listener: socket.socket) -> None:
    """Stop new connections joining the listening socket's queue, which is then emptied and closed: between the
    last accept and the close, a connection could still join it and be reset after its client sent a request
    (seen under CPU contention: a few per shutdown). The filter drops incoming handshakes instead; their clients
    resend the SYN a second later and find the port closed: refused, nothing was sent, nothing is lost.
    Elsewhere option 26 means something else or nothing, so the window stays (microseconds, unless the process
    is descheduled there)."""
    if sys.platform != "linux":
        return
    program = ctypes.create_string_buffer(DROP_ALL)
    fprog = struct.pack("HL", 1, ctypes.addressof(program))  # struct sock_fprog {len; filter*}
    with contextlib.suppress(OSError):
        listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


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
        drain = Drain()
        limits = Limits(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            write_timeout_s=settings.write_timeout_s,
            max_header_bytes=settings.max_header_bytes,
            max_header_count=settings.max_header_count,
        )
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            http=guarded_protocol(limits, drain),
            log_config=None,
            access_log=settings.access_log,
            timeout_keep_alive=KEEP_ALIVE_S,
            # Requests in flight may take request_timeout_s; an idle connection ends within its keep-alive timeout.
            timeout_graceful_shutdown=math.ceil(max(settings.request_timeout_s, KEEP_ALIVE_S) + 1),
        )
        state: ServerState = app.state.server
        DrainingServer(config, settings.drain_seconds, state, drain).run(sockets=[sock])
    finally:
        sock.close()
    if state.load_error:
        raise StartupError(state.load_error)
