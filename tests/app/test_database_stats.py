"""Database-wide gauges are computed by one pod per interval, not by every replica every minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from app import retention
from app.contract import Env
from app.migrate import migrate
from app.server.settings import Settings


def migrated(dsn: str, tmp_path) -> str:
    asyncio.run(migrate(Settings(**{Env.DATABASE_URL: dsn, Env.DATA_DIR: str(tmp_path)})))
    return dsn


def test_many_replicas_in_one_interval_compute_once_and_read_the_same(postgres_dsn: str, tmp_path) -> None:
    dsn = migrated(postgres_dsn, tmp_path)

    async def replicas(count: int) -> tuple[list[bool], list[retention.DatabaseStats | None]]:
        connections = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(count)]
        try:
            computed = await asyncio.gather(
                *(retention.refresh_database_stats(conn, interval_seconds=60) for conn in connections)
            )
            stats = [await retention.read_database_stats(conn) for conn in connections]
        finally:
            for conn in connections:
                await conn.close()
        return list(computed), stats

    computed, stats = asyncio.run(replicas(8))
    assert sorted(computed) == [False] * 7 + [True]
    assert stats[0] is not None and stats[0].database_size_bytes > 1_000_000
    assert all(s == stats[0] for s in stats)


def test_after_the_interval_another_replica_computes_again(postgres_dsn: str, tmp_path) -> None:
    dsn = migrated(postgres_dsn, tmp_path)

    async def twice() -> list[bool]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return [
                await retention.refresh_database_stats(conn, interval_seconds=0),
                await retention.refresh_database_stats(conn, interval_seconds=0),
            ]

    assert asyncio.run(twice()) == [True, True]


def test_nothing_is_read_before_the_first_computation(postgres_dsn: str, tmp_path) -> None:
    dsn = migrated(postgres_dsn, tmp_path)

    async def read() -> retention.DatabaseStats | None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await retention.read_database_stats(conn)

    assert asyncio.run(read()) is None


def test_the_oldest_thread_age_keeps_growing_between_computations() -> None:
    oldest = datetime(2026, 1, 1, tzinfo=UTC)
    stats = retention.DatabaseStats(database_size_bytes=1, oldest_activity_at=oldest)
    assert stats.oldest_thread_age_seconds(now=oldest + timedelta(hours=2)) == 7200
    assert retention.DatabaseStats(1, None).oldest_thread_age_seconds(now=oldest) == 0.0
