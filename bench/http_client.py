"""A lean HTTP/1.1 load client: one keep-alive connection per closed-loop task, requests written as bytes.

The load generator shares the machine's two cores with the server and PostgreSQL, and at concurrency 1 its
CPU is in series with every run. aiohttp spends about 0.4 ms of CPU on a request; this client, an asyncio
protocol with httptools (the C parser uvicorn serves with) reading the response, spends a small fraction of
that, so the HTTP rows measure the server rather than the client. Every response is still read whole and its
status and JSON body are checked by the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """A response whose status is not 2xx: its status and the start of its body."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200].decode(errors='replace')}")
        self.status = status


class _Connection(asyncio.Protocol):
    """One keep-alive connection answering one request at a time."""

    def __init__(self) -> None:
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.lost = ConnectionError(f"unparsable response: {error}")
            self._fail(self.lost)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("the server closed the connection")
        self._fail(self.lost)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result((self.parser.get_status_code(), bytes(self.body)))
        self.body.clear()

    def _fail(self, error: Exception) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)

    async def request(self, head: bytes, body: bytes, seconds: float) -> tuple[int, bytes]:
        if self.lost is not None:
            raise self.lost
        loop = asyncio.get_running_loop()
        self.answer = loop.create_future()
        self.transport.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        deadline = loop.call_later(seconds, self._fail, TimeoutError(f"no answer within {seconds} s"))
        try:
            return await self.answer
        finally:
            deadline.cancel()


class LeanClient:
    """Requests to one server over at most `connections` keep-alive connections (one per concurrent caller).

    Bodies are JSON; HEAD is not supported (its answer announces a body it does not carry).
    """

    def __init__(self, base_url: str, connections: int, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"an http://host:port URL is needed, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port
        self.idle: asyncio.Queue[_Connection] = asyncio.Queue()
        self.open: list[_Connection] = []
        self.connections = connections
        self.timeout = timeout

    async def _connection(self) -> _Connection:
        while not self.idle.empty():
            connection = self.idle.get_nowait()
            if connection.lost is None:
                return connection
            self._discard(connection)  # closed by the server while idle (its keep-alive timeout)
        if len(self.open) < self.connections:
            connection = _Connection()
            self.open.append(connection)  # counted before connecting: callers never open more than the limit
            try:
                await asyncio.get_running_loop().create_connection(lambda: connection, self.host, self.port)
            except BaseException:
                self.open.remove(connection)
                raise
            return connection
        return await self.idle.get()

    async def request(self, method: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        """Status and body of `method path`, with `payload` as a JSON body unless it is None."""
        body = b"" if payload is None else json.dumps(payload).encode()
        content_type = "" if payload is None else "Content-Type: application/json\r\n"
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{content_type}Content-Length: ".encode()
        connection = await self._connection()
        try:
            answer = await connection.request(head, body, self.timeout)
        except BaseException:
            self._discard(connection)
            raise
        self.idle.put_nowait(connection)
        return answer

    async def post_json(self, path: str, payload: Any) -> Any:
        """The decoded JSON body of the 2xx answer to `POST path` with `payload`; `HttpError` otherwise."""
        status, body = await self.request("POST", path, payload)
        if not 200 <= status < 300:
            raise HttpError(status, body)
        return json.loads(body)

    def _discard(self, connection: _Connection) -> None:
        if connection.transport is not None:
            connection.transport.close()
        self.open.remove(connection)

    def close(self) -> None:
        for connection in self.open:
            if connection.transport is not None:
                connection.transport.close()
        self.open.clear()


@asynccontextmanager
async def lean_client(base_url: str, connections: int) -> AsyncIterator[LeanClient]:
    client = LeanClient(base_url, connections)
    try:
        yield client
    finally:
        client.close()
