"""The HTTP edge under unfinished and oversized requests, sent on raw sockets as an attacker would, without a key:
bounded memory, every unfinished connection closed within its timeout, JSON 4xx for oversized heads, and idle
keep-alive connections kept longer than the proxies in front keep theirs."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from app.contract import HEALTH_PATH, Env
from app.server.settings import Settings
from tests.faults.conftest import migrated_env, start_server
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
SLOW_CONNECTIONS = 300
MEMORY_LIMIT = 300 * 2**20
CLOSE_MARGIN = 3.0  # scheduling slack on a shared machine, beyond the configured timeout
KEY = f"edge-key-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def edge_server(postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp_path: Path = tmp_path_factory.mktemp("edge")
    env = migrated_env(postgres_cluster.create_database(f"edge_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    limits = {
        Env.HTTP_HEADER_TIMEOUT_SECONDS: str(HEADER_TIMEOUT),
        Env.HTTP_BODY_TIMEOUT_SECONDS: str(BODY_TIMEOUT),
        Env.API_KEYS: KEY,
    }
    server = start_server({**env, **limits}, tmp_path)
    yield server
    server.stop()


async def _unfinished(port: int, head: bytes, chunk: bytes, chunks: int) -> float | None:
    """Send `head`, then up to `chunks` copies of `chunk` (never finishing the request); seconds until the
    server closed the connection, or None if it was still open after the timeout and margin."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(head)
        for _ in range(chunks):
            writer.write(chunk)
            await writer.drain()
        await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + BODY_TIMEOUT + CLOSE_MARGIN)
    except (ConnectionError, OSError):
        pass  # a reset, or a write after the server closed: closed all the same
    except TimeoutError:
        return None
    finally:
        writer.close()
    return time.monotonic() - started


async def _attack(port: int) -> list[float | None]:
    big_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
    partial_body = b"POST /graphs/steps/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"
    kinds = [
        (big_header, b"a" * 65536, 64),  # a 4 MiB header, as fast as the server takes it
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"", 0),  # a header that never ends
        (partial_body, b"", 0),  # a body that never comes (auth refuses first; the body is still owed)
    ]
    attempts = [_unfinished(port, *kinds[n % len(kinds)]) for n in range(SLOW_CONNECTIONS)]
    return await asyncio.gather(*attempts)


def test_slow_and_huge_heads_are_closed_in_time_and_hold_no_memory(edge_server: ServerProcess) -> None:
    assert edge_server.process is not None
    process = psutil.Process(edge_server.process.pid)
    peak = process.memory_info().rss
    loop = asyncio.new_event_loop()
    try:
        attack = loop.create_task(_attack(edge_server.port))
        while not attack.done():
            loop.run_until_complete(asyncio.wait([attack], timeout=0.2))
            peak = max(peak, process.memory_info().rss)
        durations = attack.result()
    finally:
        loop.close()
    still_open = sum(d is None for d in durations)
    assert still_open == 0, f"{still_open} of {SLOW_CONNECTIONS} unfinished connections still open"
    slowest = max(d for d in durations if d is not None)
    assert slowest <= max(HEADER_TIMEOUT, BODY_TIMEOUT) + CLOSE_MARGIN, f"a connection lived {slowest:.1f}s"
    assert peak < MEMORY_LIMIT, f"server memory peaked at {peak / 2**20:.0f} MiB"
    assert edge_server.process.poll() is None


def _exchange(request: bytes, port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
        return response


@pytest.mark.parametrize(
    ("case", "request_bytes", "status", "code"),
    [
        ("header over the size limit", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 40_000 + b"\r\n\r\n",
         431, b"headers_too_large"),
        ("too many headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150))
         + b"\r\n", 431, b"too_many_headers"),
        ("request line too long", b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, b"uri_too_long"),
    ],
)  # fmt: skip
def test_oversized_heads_get_a_json_4xx_and_a_close(
    edge_server: ServerProcess, case: str, request_bytes: bytes, status: int, code: bytes
) -> None:
    try:
        response = _exchange(request_bytes, edge_server.port)
    except ConnectionResetError:
        pytest.fail(f"{case}: reset without an answer")
    assert response.startswith(b"HTTP/1.1 %d " % status), f"{case}: {response[:200]!r}"
    assert b"connection: close" in response.lower() and code in response, f"{case}: {response[:400]!r}"


def test_a_64_mib_header_is_refused_early_and_costs_little_cpu(edge_server: ServerProcess) -> None:
    """The server stops reading at the limit; the client's rest is refused (a reset is fine), never a 200."""
    assert edge_server.process is not None
    process = psutil.Process(edge_server.process.pid)
    cpu_before = sum(process.cpu_times()[:2])
    response = b""
    with socket.create_connection(("127.0.0.1", edge_server.port), timeout=10) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
            for _ in range(1024):
                sock.sendall(b"a" * 65536)
            sock.sendall(b"\r\n\r\n")
            response = sock.recv(65536)
        except (ConnectionError, OSError):
            pass
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    assert not response.startswith(b"HTTP/1.1 200"), response[:200]
    assert cpu < 2.0, f"the server spent {cpu:.1f}s of CPU on one request head"


def test_idle_keep_alive_outlives_the_proxies_idle_timeouts(edge_server: ServerProcess) -> None:
    """The default is above Envoy's 1 h; and a connection idle for longer than uvicorn's old 5 s still works."""
    assert Settings().http_idle_timeout_seconds > 3600
    request = f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", edge_server.port), timeout=10) as sock:
        for attempt in range(2):
            if attempt:
                time.sleep(6.0)  # idle on purpose: longer than the 5 s uvicorn would have allowed
            sock.sendall(request)
            response = _read_response(sock)
            assert response.startswith(b"HTTP/1.1 200 "), f"request {attempt + 1}: {response[:200]!r}"


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body): the head and body may arrive in separate segments."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
