"""A real server process on a fresh PostgreSQL database, driven only through the official `langgraph-sdk` client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from app.contract import READY_PATH, Env
from tests.pg import PostgresCluster, free_port

API_KEY = "sdk-test-key"
ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


@pytest.fixture(scope="module")
def server_url(postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m app` against its own database; yield its base URL; stop it."""
    database = f"sdk_{os.getpid()}_{time.monotonic_ns()}"
    dsn = postgres_cluster.create_database(database)
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        **os.environ,
        Env.HOST: "127.0.0.1",
        Env.PORT: str(port),
        Env.DATABASE_URL: dsn,
        Env.MIGRATE_ON_STARTUP: "true",
        Env.API_KEYS: API_KEY,
        Env.SSE_HEARTBEAT_SECONDS: "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(url + READY_PATH, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {STARTUP_SECONDS}s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def client(server_url: str) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server_url, api_key=API_KEY) as sdk:
        yield sdk
