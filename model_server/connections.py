"""Slow-client timeouts for uvicorn's httptools protocol: a connection cannot be held open by trickling bytes.

uvicorn times out only idle keep-alive connections (`timeout_keep_alive`); a client that sends its headers or
body one byte at a time, or nothing at all after connecting, is held as long as it likes (a slow-loris).
This protocol arms one timer per request: from the connection (or the request's first byte) to the end of
its headers, then from there to the end of its body. When it fires, the client gets a 408 and the
connection is closed. Inference time is not limited here (that is --request-timeout-s).
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _timeout_response(message: str) -> bytes:
    body = b'{"error":"' + message.encode() + b'"}'
    head = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class SlowClientTimeouts(HttpToolsProtocol):
    header_timeout_s = 5.0
    body_timeout_s = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_body = False

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
        self._arm(self.header_timeout_s, reading_body=False)  # a connection that never sends a byte is cut too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout_s, reading_body=False)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout_s, reading_body=True)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if not self._reading_body and cycle is not None and not cycle.response_complete:
            # Only the next pipelined request is slow: let the response in progress finish first.
            self._arm(self.header_timeout_s, reading_body=False)
            return
        if self._reading_body and cycle is not None:
            if cycle.response_started:  # the app already answered (a 413, say): just stop waiting for the body
                self.transport.close()
                return
            cycle.disconnected = True  # the app's receive() now ends, and anything it still sends is dropped
            cycle.message_event.set()
        limit, part = (self.body_timeout_s, "body") if self._reading_body else (self.header_timeout_s, "headers")
        self.logger.info("closing a connection from %s: request %s not received within %g s", self.client, part, limit)
        self.transport.write(_timeout_response(f"request {part} not received within {limit:g} s"))
        self.transport.close()


def slow_client_protocol(header_timeout_s: float, body_timeout_s: float) -> type[SlowClientTimeouts]:
    """The protocol class for uvicorn's `http=`, with these limits."""
    return type(
        "SlowClientTimeoutsConfigured",
        (SlowClientTimeouts,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
