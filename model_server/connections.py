"""Per-connection guards for uvicorn's httptools protocol, and how connections behave while the server drains.

uvicorn bounds none of what a hostile or broken client controls on a connection: how long it takes to send a
request (a slow-loris), how large and how many its headers are (httptools buffers a header of any size, by
repeated concatenation), and how long it leaves a response unread (the response task waits for the socket
forever). This protocol bounds each:
- a request's headers must arrive within `header_timeout_s` of the connection or of its first byte, and its
  body within `body_timeout_s` of the headers: otherwise 408 and the connection is closed;
- the request line and headers may hold `max_header_bytes` bytes and `max_header_count` lines: beyond, 431 and
  the connection is closed, having read no more than that (plus the rest of one already parsed request);
- a response the client leaves unread for `write_timeout_s` (the socket buffers full) drops the connection.
Inference time is not limited here (that is --request-timeout-s).

Draining (after SIGTERM, see model_server.serve): every response not yet started says `Connection: close` and
the connection closes after it, so a client never sends another request on a connection the server is about
to close. At shutdown an idle connection is not closed while its client may be sending a request on it: it
closes after answering that request (with `Connection: close`), or when its keep-alive timeout ends it.
"""

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger(__name__)


# uvicorn parses every request a read brings and queues those behind the one being answered; a client that
# pipelines without reading would queue them without end (hundreds of MB). No real client pipelines this deep.
MAX_PIPELINED = 64


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float = 5.0
    body_timeout_s: float = 15.0
    write_timeout_s: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_header_count: int = 100


@dataclass
class Drain:
    """What the server's shutdown tells its connections."""

    draining: bool = False  # answer with Connection: close
    hurry: bool = False  # at shutdown, close idle connections at once (a second signal, a failed model load)


def _unsent_bytes(transport: asyncio.Transport) -> int:
    """Bytes written but not yet taken by the client: the transport's buffer and the kernel's send queue."""
    unsent = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None and hasattr(termios, "TIOCOUTQ"):
        with contextlib.suppress(OSError):  # Linux: SIOCOUTQ (the same number); elsewhere it may fail: count 0
            unsent += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    return unsent


def _error_response(status: bytes, message: str) -> bytes:
    body = b'{"error":"' + message.encode() + b'"}'
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[Limits] = Limits()
    drain: ClassVar[Drain] = Drain()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._header_bytes = 0  # of the request being read, request line included
        self._header_count = 0
        self._refused = False  # a 431 was sent: whatever else was read is ignored
        self._running: RequestResponseCycle | None = None
        self._answered_at = 0.0  # loop time the last response was handed to the socket

    def _arm(self, seconds: float, reading_body: bool) -> None:
        self._disarm()
        self._reading_body = reading_body
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, reading_body=False)  # a connection that never sends a byte is cut

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
        super().connection_lost(exc)

    # Reading: header size and count.

    def data_received(self, data: bytes) -> None:
        # While headers are read, the parser gets no more than the byte limit allows, so a 100 MB header costs
        # the server max_header_bytes, not 100 MB of buffer and its copies.
        while data and not self._reading_body and not self._refused:
            room = self.limits.max_header_bytes - self._header_bytes
            if room <= 0:
                self._refuse(f"request headers over the {self.limits.max_header_bytes}-byte limit")
                return
            part, data = data[:room], data[room:]
            self._header_bytes += len(part)
            super().data_received(part)
            if self.transport.is_closing():
                return
        if data and not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._arm(self.limits.header_timeout_s, reading_body=False)

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._header_count += 1
        if self._header_count > self.limits.max_header_count:
            self._refuse(f"more than {self.limits.max_header_count} request header lines")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        super().on_headers_complete()
        if len(self.pipeline) > MAX_PIPELINED:  # parsed requests waiting their turn: each holds memory
            self._drop(f"over {MAX_PIPELINED} pipelined requests")
            return
        if self.drain.draining:
            self.cycle.keep_alive = False
        self._arm(self.limits.body_timeout_s, reading_body=True)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        self._reading_body = False
        self._header_bytes = self._header_count = 0
        super().on_message_complete()

    def _refuse(self, problem: str) -> None:
        self._refused = True
        self._disarm()
        self.logger.info("closing a connection from %s: %s", self.client, problem)
        self._close_with(b"431 Request Header Fields Too Large", problem)

    def _close_with(self, status: bytes, message: str) -> None:
        """Answer `status` and close; if a response is still being written, drop the connection instead."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() now ends, and anything it still sends is dropped
            cycle.message_event.set()
            if cycle.response_started:  # an answer is half written: nothing else can be said on this connection
                self.transport.close()
                return
        self.transport.write(_error_response(status, message))
        self.transport.close()

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if not self._reading_body and cycle is not None and not cycle.response_complete:
            # Only the next pipelined request is slow: let the response in progress finish first.
            self._arm(self.limits.header_timeout_s, reading_body=False)
            return
        if self._reading_body and cycle is not None and cycle.response_started:
            self.transport.close()  # the app already answered (a 413, say): just stop waiting for the body
            return
        limit, part = (
            (self.limits.body_timeout_s, "body") if self._reading_body else (self.limits.header_timeout_s, "headers")
        )
        self.logger.info("closing a connection from %s: request %s not received within %g s", self.client, part, limit)
        self._close_with(b"408 Request Timeout", f"request {part} not received within {limit:g} s")

    # Writing: a response left unread.

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.limits.write_timeout_s, self._write_timed_out)

    def resume_writing(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        super().resume_writing()

    def on_response_complete(self) -> None:
        self._answered_at = self.loop.time()
        super().on_response_complete()

    def timeout_keep_alive_handler(self) -> None:
        """Idle: close, unless the client has not taken the last response yet. A close would leave those bytes
        to the kernel, which keeps an orphan socket trying to deliver them for minutes: give the client until
        the write timeout, then reset the connection."""
        if self.transport.is_closing():
            return
        if _unsent_bytes(self.transport):
            if self.loop.time() - self._answered_at < self.limits.write_timeout_s:
                self.timeout_keep_alive_task = self.loop.call_later(1.0, self.timeout_keep_alive_handler)
                return
            self._drop(f"its response went unread for {self.limits.write_timeout_s:g} s")
            return
        self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        self._running = cycle  # the one answering now (self.cycle is the latest request, maybe pipelined behind)
        super()._start_asgi_task(cycle, app)

    def _write_timed_out(self) -> None:
        self._write_deadline = None
        self._drop(f"its response went unread for {self.limits.write_timeout_s:g} s")

    def _drop(self, reason: str) -> None:
        """Drop the connection: nothing more is read, and what its requests still send is discarded."""
        self.logger.info("dropping a connection from %s: %s", self.client, reason)
        self._refused = True
        self._disarm()
        for cycle in (c for c in (self._running, self.cycle) if c is not None):  # what they send now is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # linger 0: the kernel resets the connection and frees its buffers at once
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()  # close() would wait for the unread bytes to be sent, forever
        self.flow.resume_writing()  # the response waiting for room wakes up, and sees the disconnect

    # Draining.

    def close_after_response(self) -> None:
        """The drain began: the response to the latest request says Connection: close, if it is not started yet."""
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.keep_alive = False

    def shutdown(self) -> None:
        """The server stops: in-flight requests finish; an idle connection waits for its next request or its
        keep-alive timeout, unless the server is in a hurry."""
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.drain.hurry:
            self.transport.close()
        elif not idle:
            self.close_after_response()


def guarded_protocol(limits: Limits, drain: Drain) -> type[GuardedProtocol]:
    """The protocol class for uvicorn's `http=`, with these limits and this drain."""
    return type("GuardedProtocolConfigured", (GuardedProtocol,), {"limits": limits, "drain": drain})
