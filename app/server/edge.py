"""Limits and timeouts at the HTTP edge: uvicorn's httptools protocol with what httptools itself lacks.

httptools has no limit on header size or count, and uvicorn has no timeout for a request that never finishes
arriving, so one client could hold memory and connections for ever. `EdgeProtocol` adds, per connection:

- headers larger than `max_header_bytes`, or a head still unfinished past `max_head_bytes` -> 431, closed; more than
  `max_header_count` headers -> 431; a request target longer than `max_request_line_bytes` -> 414;
- head not complete within `header_timeout` of its first byte -> 408, closed;
- body not complete within `body_timeout` of the end of the head -> 408 (or a plain close if the app has
  already answered), closed;
- a connection that sends nothing, before its first request or between requests, is closed after
  `idle_timeout` (uvicorn's keep-alive timeout, which it otherwise only arms after a response).

Bytes are counted as they arrive, before httptools buffers them, so a slow or huge head costs at most the limit
plus one socket read. The checks are a few comparisons per read and two timers per request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .errors import edge_error_bytes
from .settings import Settings


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int
    max_header_count: int
    max_request_line_bytes: int
    header_timeout: float
    body_timeout: float

    @property
    def max_head_bytes(self) -> int:
        """The most an unfinished request head (request line and headers) may take before it is refused."""
        return self.max_request_line_bytes + self.max_header_bytes

    @classmethod
    def of(cls, settings: Settings) -> EdgeLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_header_count=settings.max_header_count,
            max_request_line_bytes=settings.max_request_line_bytes,
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
        )


class _HeadThenBody:
    """The transport a request's response is written to: the response head waits for the first body bytes, so a
    response whose body follows at once (every JSON answer) leaves in one write, one TCP segment, instead of two.

    A head with no body yet (a stream whose first event is not ready) is written on the event loop's next turn
    anyway, so a stream's client gets its headers as before.
    """

    __slots__ = ("_head", "_loop", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._started:
            self._started = True
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request the edge refuses."""


class EdgeProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the limits and timeouts of `limits` (set on a subclass by `edge_protocol`)."""

    limits: EdgeLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._header_count = self._header_bytes = 0
        self._refusal: tuple[int, str, str] | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_bytes == 0 and self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)
            self._head_bytes += len(data)
        super().data_received(data)  # a callback's `_Refused` comes back through `send_400_response`
        if self._refusal is None and self._in_head and self._head_bytes > self.limits.max_head_bytes:
            self._refusal = self._headers_too_large()
        if self._refusal is not None and not self.transport.is_closing():
            self._refuse(*self._refusal)

    def send_400_response(self, msg: str) -> None:
        """httptools stopped on a malformed request, or on a callback that refused it: answer the refusal."""
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            self._refuse(400, "malformed_request", "the request is not valid HTTP/1.1")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer `status` with the server's JSON error shape and close, unless the app has already answered."""
        self._cancel_timers()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = edge_error_bytes(code, message)
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.append(
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            )
            self.transport.write(b"".join(head) + body)
        if cycle is not None:
            cycle.disconnected = True  # the app reads a disconnect, and its own response is not written
            cycle.message_event.set()
        self.transport.close()

    def _headers_too_large(self) -> tuple[int, str, str]:
        return 431, "headers_too_large", f"request headers exceed {self.limits.max_header_bytes} bytes"

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(408, "request_timeout", f"request headers not received within {self.limits.header_timeout:g}s")

    def _body_too_slow(self) -> None:
        self._body_timer = None
        self._refuse(408, "request_timeout", f"request body not received within {self.limits.body_timeout:g}s")

    # Parser callbacks
    def on_message_begin(self) -> None:
        self._header_count = self._header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line_bytes:
            self._refusal = (414, "uri_too_long", f"request target exceeds {self.limits.max_request_line_bytes} bytes")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > self.limits.max_header_count:
            self._refusal = (431, "too_many_headers", f"more than {self.limits.max_header_count} request headers")
            raise _Refused
        if self._header_bytes > self.limits.max_header_bytes:
            self._refusal = self._headers_too_large()
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_too_slow)
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:  # not an upgrade: a new request's cycle
            self.cycle.transport = _HeadThenBody(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()


def edge_protocol(limits: EdgeLimits) -> type[EdgeProtocol]:
    """The protocol class to give uvicorn (`Config(http=...)`), enforcing `limits`."""
    return type("EdgeProtocol", (EdgeProtocol,), {"limits": limits})
