"""The cron claim on PostgreSQL and on SQLite: a due cron is claimed once, then waits for its next time; a
schedule missed many times fires once; disabled and ended crons are not claimed; of two concurrent claims on
PostgreSQL exactly one gets the cron."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from app.migrate import migrate_postgres, migrate_sqlite
from app.server.platform_api.cron_store import CronStore, InvalidSchedule, first_run, next_run

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC)
DAILY = "0 3 * * *"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["postgres", "sqlite"])
async def crons(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CronStore]:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        async with await AsyncConnection.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            await migrate_postgres(conn)
        pool = AsyncConnectionPool(
            dsn, min_size=2, max_size=4, open=False, kwargs={"autocommit": True, "row_factory": dict_row}
        )
        await pool.open()
        try:
            yield CronStore.postgres(pool)
        finally:
            await pool.close()
    else:
        async with aiosqlite.connect(tmp_path / "crons.sqlite") as conn:
            await migrate_sqlite(conn)
            yield CronStore.sqlite(conn, asyncio.Lock())


async def _cron(crons: CronStore, next_run_date: datetime, **fields: Any) -> str:
    cron_id = str(uuid.uuid4())
    row = {
        "cron_id": cron_id, "assistant_id": "a", "thread_id": None, "user_id": None, "schedule": DAILY,
        "timezone": None, "payload": {"assistant_id": "a"}, "metadata": {}, "on_run_completed": "delete",
        "enabled": True, "end_time": None, "next_run_date": next_run_date, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip
    await crons.create(row | fields)
    return cron_id


def _at(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def test_a_schedule_missed_many_times_fires_once_then_waits_for_its_next_time(crons: CronStore) -> None:
    missed = await _cron(crons, NOW - timedelta(days=10))  # ten 03:00s went by while no server ran
    later = await _cron(crons, NOW + timedelta(minutes=1))
    assert [row["cron_id"] for row in await crons.claim(NOW)] == [missed]
    assert await crons.claim(NOW) == []
    assert _at((await crons.get(missed))["next_run_date"]) == datetime(2026, 6, 16, 3, tzinfo=UTC)
    assert [row["cron_id"] for row in await crons.claim(NOW + timedelta(minutes=1))] == [later]
    assert await crons.claim(NOW + timedelta(hours=1)) == []


async def test_disabled_and_ended_crons_are_not_claimed(crons: CronStore) -> None:
    await _cron(crons, NOW - timedelta(minutes=1), enabled=False)
    await _cron(crons, NOW - timedelta(minutes=1), end_time=NOW - timedelta(seconds=1))
    running = await _cron(crons, NOW - timedelta(minutes=1), end_time=NOW + timedelta(days=1))
    assert [row["cron_id"] for row in await crons.claim(NOW)] == [running]


async def test_the_claim_reads_the_schedule_in_the_crons_time_zone(crons: CronStore) -> None:
    cron_id = await _cron(crons, NOW - timedelta(seconds=1), timezone="America/New_York")
    await crons.claim(NOW)
    assert _at((await crons.get(cron_id))["next_run_date"]) == datetime(2026, 6, 16, 7, tzinfo=UTC)  # 03:00 EDT


async def test_concurrent_claims_fire_a_due_cron_exactly_once(crons: CronStore) -> None:
    cron_ids = {await _cron(crons, NOW - timedelta(minutes=n)) for n in range(1, 6)}
    results = await asyncio.gather(*(crons.claim(NOW) for _ in range(4)))
    claimed = [row["cron_id"] for result in results for row in result]
    assert sorted(claimed) == sorted(cron_ids)  # each once, by whichever claim got it


def test_schedules_are_checked_by_croniter() -> None:
    assert first_run("*/5 * * * *", None).minute % 5 == 0
    assert first_run("* * * * * */2", None).second % 2 == 0  # seconds as a sixth field
    for schedule in ("every minute", "0 0 30 2 *", "* * * * 8", "0 3 15 6 * 0 2026"):  # no Feb 30, 8th weekday, 2026
        with pytest.raises(InvalidSchedule, match=re.escape(repr(schedule))):
            first_run(schedule, None)
    assert next_run("* * * * * *", NOW) == NOW + timedelta(seconds=1)


async def test_a_schedule_with_no_time_left_fires_its_last_time_and_is_disabled(crons: CronStore) -> None:
    last = await _cron(crons, NOW - timedelta(hours=9), schedule="0 3 15 6 * 0 2026")  # once, in 2026
    assert [row["cron_id"] for row in await crons.claim(NOW)] == [last]
    assert not (await crons.get(last))["enabled"]
    assert await crons.claim(NOW + timedelta(days=1)) == []
