"""A stream client that never reads: the run stops after a few buffered events instead of queueing its whole
output in server memory, and the stream is closed after `SSE_SEND_TIMEOUT_SECONDS` of no reading."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import psutil
import pytest

from app.contract import Env
from tests.faults.conftest import migrated_env, runs_in_flight, start_server, wait_until
from tests.pg import PostgresCluster

GRAPHS = Path(__file__).parent / "graphs" / "langgraph.json"
SEND_TIMEOUT = 2.0
ROUNDS, KILOBYTES = 300, 256  # 75 MiB of `values` events if nothing held the run back
MAX_GROWTH = 40 * 2**20


@pytest.mark.parametrize("path", ["/runs/stream", "/graphs/chatty/stream"])
def test_a_client_that_never_reads_is_cut_off_and_costs_bounded_memory(
    postgres_cluster: PostgresCluster, tmp_path: Path, path: str
) -> None:
    env = migrated_env(postgres_cluster.create_database(f"slow_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    settings = {Env.LANGGRAPH_CONFIG: str(GRAPHS), Env.SSE_SEND_TIMEOUT_SECONDS: str(SEND_TIMEOUT)}
    server = start_server({**env, **settings}, tmp_path)
    graph_input = {"rounds": ROUNDS, "kilobytes": KILOBYTES}
    config = {"recursion_limit": 1000}
    body = {"assistant_id": "chatty", "input": graph_input, "stream_mode": "values", "config": config}
    if path.startswith("/graphs"):
        thread_id = f"slow-{uuid.uuid4().hex[:8]}"
        body = {"thread_id": thread_id, "input": graph_input, "stream_mode": "values", "config": config}
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    try:
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        rss_before = process.memory_info().rss
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small TCP window
            sock.settimeout(60)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(head.encode() + payload)
            started = time.monotonic()
            peak = rss_before
            while runs_in_flight(server.url) or time.monotonic() - started < 1.0:
                peak = max(peak, process.memory_info().rss)
                assert time.monotonic() - started < SEND_TIMEOUT + 30, "the run is still going: nothing cut it"
                time.sleep(0.2)
            cut_after = time.monotonic() - started
            sock.settimeout(5)
            received = b""
            while chunk := sock.recv(1 << 20):  # the server closed: what the socket held, then EOF
                received += chunk
        wait_until(lambda: runs_in_flight(server.url) == 0, timeout=10, what="no run in flight")
    finally:
        server.stop()
    assert cut_after < SEND_TIMEOUT + 20, f"the stream lived {cut_after:.1f}s with a {SEND_TIMEOUT}s send timeout"
    assert peak - rss_before < MAX_GROWTH, f"memory grew {(peak - rss_before) / 2**20:.0f} MiB for one stream"
    assert received.count(b"event: values") < ROUNDS, "the whole run was delivered: the client was not slow enough"
