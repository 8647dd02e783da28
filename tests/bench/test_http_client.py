"""The benchmark's lean HTTP client against a scripted server: bodies, statuses, keep-alive, limits, timeouts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bench.http_client import HttpError, LeanClient, lean_client


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 answering by path; counts the connections it accepted."""

    def __init__(self) -> None:
        self.accepted = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = dict(line.split(": ", 1) for line in lines[1:] if line)
                body = await reader.readexactly(int(headers.get("Content-Length", "0")))
                if path == "/hang":
                    await asyncio.sleep(30)
                writer.write(self._answer(method, path, body))
                await writer.drain()
                if path == "/close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _answer(method: str, path: str, body: bytes) -> bytes:
        if path == "/chunked":
            return b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
        if path == "/fail":
            return b'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 17\r\n\r\n{"detail":"down"}'
        echoed = json.dumps({"method": method, "body": json.loads(body) if body else None}).encode()
        close = b"Connection: close\r\n" if path == "/close" else b""
        return b"HTTP/1.1 200 OK\r\n" + close + b"Content-Length: " + str(len(echoed)).encode() + b"\r\n\r\n" + echoed

    async def run(self, check: Callable[[str], Awaitable[None]]) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            await asyncio.wait_for(check(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"), 10)
        finally:
            server.close()


def _run(check: Callable[[ScriptedServer, str], Awaitable[Any]]) -> ScriptedServer:
    scripted = ScriptedServer()
    asyncio.run(scripted.run(lambda url: check(scripted, url)))
    return scripted


def test_json_round_trips_over_at_most_the_given_connections_kept_alive() -> None:
    async def check(scripted: ScriptedServer, url: str) -> None:
        async with lean_client(url, 2) as client:
            answers = await asyncio.gather(*(client.post_json("/echo", {"n": n}) for n in range(20)))
        assert answers == [{"method": "POST", "body": {"n": n}} for n in range(20)]
        assert scripted.accepted == 2

    _run(check)


def test_a_non_2xx_answer_raises_with_its_status_and_keeps_the_connection() -> None:
    async def check(scripted: ScriptedServer, url: str) -> None:
        async with lean_client(url, 1) as client:
            with pytest.raises(HttpError, match=r"HTTP 503: .*down") as raised:
                await client.post_json("/fail", {})
            assert raised.value.status == 503
            assert await client.request("GET", "/echo") == (200, b'{"method": "GET", "body": null}')
        assert scripted.accepted == 1

    _run(check)


def test_a_chunked_answer_is_read_whole() -> None:
    async def check(scripted: ScriptedServer, url: str) -> None:
        async with lean_client(url, 1) as client:
            assert await client.post_json("/chunked", {}) == {"a": 1}

    _run(check)


def test_a_connection_the_server_closed_is_replaced() -> None:
    async def check(scripted: ScriptedServer, url: str) -> None:
        async with lean_client(url, 1) as client:
            for _ in range(3):
                assert (await client.post_json("/close", {"x": 1}))["body"] == {"x": 1}
                await asyncio.sleep(0.05)  # the server's FIN arrives
        assert scripted.accepted == 3

    _run(check)


def test_an_unanswered_request_times_out_and_its_connection_is_dropped() -> None:
    async def check(scripted: ScriptedServer, url: str) -> None:
        client = LeanClient(url, 1, timeout=0.2)
        try:
            with pytest.raises(TimeoutError, match=r"no answer within 0\.2 s"):
                await client.post_json("/hang", {})
            assert client.open == []
            assert (await client.post_json("/echo", {}))["method"] == "POST"
        finally:
            client.close()
        assert scripted.accepted == 2

    _run(check)


def test_only_plain_http_urls_with_a_port_are_taken() -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        LeanClient("https://example.com", 1)
