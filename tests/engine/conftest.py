"""Two real server processes on one PostgreSQL database (or one on the embedded SQLite file), as replicas run."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.contract import Env
from tests.app.conftest import GRAPHS_WITH_A_FAILING_ONE
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

LEASE_SECONDS = 3
_databases = (f"engine_{n}" for n in itertools.count())


def engine_env(database_url: str | None, data_dir: Path) -> dict[str, str]:
    env = {
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_FAILING_ONE),
        Env.RUN_LEASE_SECONDS: str(LEASE_SECONDS),
        Env.SSE_HEARTBEAT_SECONDS: "1",
        Env.DATA_DIR: str(data_dir),
    }
    if database_url is not None:
        env |= {Env.DATABASE_URL: database_url, Env.MIGRATE_ON_STARTUP: "true"}
    return env


@pytest.fixture(scope="module")
def pg_env(postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return engine_env(postgres_cluster.create_database(next(_databases)), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def replicas(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    """Two server processes on one PostgreSQL database."""
    logs = tmp_path_factory.mktemp("logs")
    servers = [ServerProcess(env=pg_env, log_path=logs / f"server-{n}.log") for n in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
