"""Fixtures shared by every test folder."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PostgresCluster
from tools import schemas

SCHEMA_FIXTURE = "pinned_schema_dir"

_database_names = (f"test_{n}" for n in itertools.count())


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole session."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_dsn(postgres_cluster: PostgresCluster) -> str:
    """A DSN to a fresh, empty database in the session's cluster."""
    return postgres_cluster.create_database(next(_database_names))


@pytest.fixture(scope="session")
def pinned_schema_dir() -> Path:
    """The verified directory of upstream schemas (`tools.schemas`); checked once at collection, see below."""
    return schemas.require()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop with one line saying how to get the schemas when a selected test needs them and they are unavailable."""
    if not any(SCHEMA_FIXTURE in getattr(item, "fixturenames", ()) for item in items):
        return
    try:
        schemas.require()
    except schemas.SchemasUnavailable as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
