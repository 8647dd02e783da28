"""Fixtures for the fault, soak and hostile-input suites: real server processes on a real PostgreSQL.

PostgreSQL asks for a password here, and every server's log is kept: at the end of the session the logs of
all servers started with `start_server` are searched for the password, the API keys and any other secret
their environment held (`no_secret_in_any_log`). `wait_until` polls a condition up to a deadline, so tests
wait as long as needed and no longer, instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from app.contract import METRICS_PATH, Env, Metrics
from app.migrate import migrate
from app.server.settings import Settings
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

STEPS = "/graphs/steps"
STEP_ORDER = ["add_one", "double", "describe"]
DB_PASSWORD = f"pg-pw-{secrets.token_hex(8)}"
# Environment variables whose values are secret, and the secrets of every server started this session.
SECRET_ENV = (Env.API_KEYS, "OPENAI_API_KEY")
_secrets: set[str] = set()
_server_logs: list[Path] = []
T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, interval: float = 0.1, what: str = "condition") -> T:
    """Call `condition` until it returns something truthy (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def runs_in_flight(url: str) -> float:
    """The server's runs-in-flight gauge."""
    metrics = httpx.get(url + METRICS_PATH, timeout=5).text
    prefix = Metrics.RUNS_IN_FLIGHT + " "
    return float(next(line[len(prefix) :] for line in metrics.splitlines() if line.startswith(prefix)))


def secrets_of(env: dict[str, str]) -> set[str]:
    """The secret values an environment holds: keys, and the password of every URL in it."""
    found = {key for name in SECRET_ENV for key in env.get(name, "").split(",") if key.strip()}
    for value in env.values():
        if "://" in value and (password := urlsplit(value).password):
            found.add(password)
    return found


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's cluster, asking for a password (which the log check then looks for)."""
    with PostgresCluster(password=DB_PASSWORD) as cluster:
        yield cluster


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """After every fault test has run: no server log line holds a password or a key it was given."""
    yield
    leaks = [
        f"{log.name}:{number}: {line[:200]}"
        for log in _server_logs
        if log.exists()
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1)
        if any(secret in line for secret in _secrets)
    ]
    assert not leaks, f"{len(leaks)} server log lines hold a secret, e.g. {leaks[:3]}"


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
    with PostgresCluster(password=DB_PASSWORD) as cluster:
        yield cluster


def start_server(env: dict[str, str], tmp_path: Path, name: str = "server") -> ServerProcess:
    """A server whose log joins the session's secret check."""
    server = ServerProcess(env=env, log_path=tmp_path / f"{name}.log")
    _secrets.update(secrets_of(env))
    _server_logs.append(server.log_path)  # type: ignore[arg-type]
    server.start()
    return server


def steps_body(thread_id: str, sleep_seconds: float = 0.0, value: int | None = 1) -> dict:
    """An invoke body for the three-step graph; `value=None` sends no input (continue from the checkpoint)."""
    graph_input = None if value is None else {"value": value, "sleep_seconds": sleep_seconds}
    return {"thread_id": thread_id, "input": graph_input}
