"""Fixtures for the fault, soak and hostile-input suites: real server processes on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.contract import Env
from app.migrate import migrate
from app.server.settings import Settings
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

STEPS = "/graphs/steps"
STEP_ORDER = ["add_one", "double", "describe"]


def migrated_env(dsn: str, data_dir: Path) -> dict[str, str]:
    """Server environment for `dsn`, after migrating it the way the migration Job does."""
    env = {Env.DATABASE_URL: dsn, Env.DATA_DIR: str(data_dir), Env.LOG_LEVEL: "WARNING"}
    asyncio.run(migrate(Settings(**env)))
    return env


@pytest.fixture
def server_env(postgres_dsn: str, tmp_path: Path) -> dict[str, str]:
    return migrated_env(postgres_dsn, tmp_path / "data")


@pytest.fixture(scope="module")
def module_server(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server (no API keys) on a fresh database for a whole test module."""
    tmp_path = tmp_path_factory.mktemp("server")
    dsn = postgres_cluster.create_database(f"faults_{uuid.uuid4().hex[:12]}")
    server = start_server(migrated_env(dsn, tmp_path / "data"), tmp_path)
    yield server
    server.stop()


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test alone, so the test may stop and start it."""
    with PostgresCluster() as cluster:
        yield cluster


def start_server(env: dict[str, str], tmp_path: Path, name: str = "server") -> ServerProcess:
    server = ServerProcess(env=env, log_path=tmp_path / f"{name}.log")
    server.start()
    return server


def steps_body(thread_id: str, sleep_seconds: float = 0.0, value: int | None = 1) -> dict:
    """An invoke body for the three-step graph; `value=None` sends no input (continue from the checkpoint)."""
    graph_input = None if value is None else {"value": value, "sleep_seconds": sleep_seconds}
    return {"thread_id": thread_id, "input": graph_input}
