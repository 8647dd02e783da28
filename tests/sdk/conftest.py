"""A real server process driven only through the official `langgraph-sdk` client.

Every test runs against PostgreSQL (a fresh database per module) and again against the embedded SQLite
default, so both thread stores answer the client the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from app.contract import Env
from tests.app.conftest import GRAPHS_WITH_A_FAILING_ONE
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

API_KEY = "sdk-test-key"
_databases = (f"sdk_{n}" for n in itertools.count())


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def server_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a server on a fresh database (schema migrated at startup), behind an API key, serving
    the bundled graphs and `fails` (whose node raises)."""
    env = {
        Env.API_KEYS: API_KEY,
        Env.SSE_HEARTBEAT_SECONDS: "1",
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_FAILING_ONE),
    }
    if request.param == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        env |= {Env.DATABASE_URL: cluster.create_database(next(_databases)), Env.MIGRATE_ON_STARTUP: "true"}
    else:
        env[Env.DATA_DIR] = str(tmp_path_factory.mktemp("sqlite"))
    return env


def start_server(env: dict[str, str], log_dir: Path) -> ServerProcess:
    server = ServerProcess(env=env, log_path=log_dir / "server.log")
    server.start()
    return server


@pytest.fixture(scope="module")
def server_url(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_server(server_env, tmp_path_factory.mktemp("server"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def client(server_url: str) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server_url, api_key=API_KEY) as sdk:
        yield sdk


@pytest.fixture
def second_replica(server_env: dict[str, str], tmp_path: Path) -> Iterator[SyncLangGraphClient]:
    """A client of a second server process on the same database, as another replica of the Deployment."""
    if Env.DATABASE_URL not in server_env:
        pytest.skip("the embedded SQLite store serves one process")
    other = start_server(server_env, tmp_path)
    try:
        with get_sync_client(url=other.url, api_key=API_KEY) as sdk:
            yield sdk
    finally:
        other.stop()
