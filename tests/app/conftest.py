"""Fixtures for the server tests: the app in-process on SQLite and on a real throwaway PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.contract import Env
from app.graphs.chat import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV
from app.migrate import migrate
from app.server.main import create_app
from app.server.settings import Settings

GRAPHS_WITH_A_FAILING_ONE = Path(__file__).parent / "graphs" / "langgraph.json"
GRAPHS_WITH_A_STORE_INDEX = Path(__file__).parent / "graphs" / "langgraph_vectors.json"  # and an embeddings function
TEST_GRAPHS = set(json.loads(GRAPHS_WITH_A_FAILING_ONE.read_text())["graphs"])


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph set does not depend on the developer's shell: `chat` is skipped unless a test sets a key."""
    for name in (API_KEY_ENV, BASE_URL_ENV, MODEL_ENV):
        monkeypatch.delenv(name, raising=False)


def settings_for(env: dict[str, str], **overrides: str) -> Settings:
    return Settings(**{**env, **overrides})


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {Env.DATA_DIR: str(tmp_path / "data")}


@pytest.fixture
def postgres_env(postgres_dsn: str, tmp_path: Path) -> dict[str, str]:
    """A migrated database, the way the migration Job leaves it."""
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path / "data")}
    asyncio.run(migrate(settings_for(env)))
    return env


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return request.getfixturevalue(f"{request.param}_env")


def serve(env: dict[str, str], **overrides: str) -> TestClient:
    """A client whose `with` block runs the app's startup and shutdown."""
    return TestClient(create_app(settings_for(env, **overrides)), raise_server_exceptions=False)


@pytest.fixture
def client(backend_env: dict[str, str]) -> Iterator[TestClient]:
    with serve(backend_env) as test_client:
        yield test_client


@pytest.fixture
def failing_client(backend_env: dict[str, str]) -> Iterator[TestClient]:
    """The bundled graphs plus `fails`, whose node raises."""
    with serve(backend_env, **{Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_FAILING_ONE)}) as test_client:
        yield test_client
