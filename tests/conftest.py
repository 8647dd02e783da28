"""Fixtures shared by every test folder."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.pg import PostgresCluster

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
