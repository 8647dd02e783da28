"""Cron records of the LangGraph Server API (`crons`, migration 5) and the claim that fires them.

`next_run_date` is when a cron is next due. `claim` takes due crons and moves each one's `next_run_date` to the
schedule's next time after now, in one transaction: on PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`
and the update only applies if `next_run_date` is still the one read, so of several replicas exactly one
fires a due schedule, and a schedule missed while no server ran fires once (then waits for its next time).

One implementation serves both backends (the `_Backend`s of `assistant_store`); crons are few, so search filters
and sorting run in Python.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
from croniter import CroniterError, croniter
from psycopg_pool import AsyncConnectionPool

from .assistant_store import _Backend, _contains, _PostgresBackend, _SqliteBackend, _when

_JSON_COLUMNS = ("payload", "metadata")
_DATES = ("end_time", "next_run_date", "created_at", "updated_at")
CLAIM_BATCH = 100
"""Crons one scheduler tick claims at most; more due ones wait for the next tick."""


class CronNotFound(LookupError):
    def __init__(self, cron_id: str) -> None:
        super().__init__(f"Cron {cron_id!r} not found")


class InvalidSchedule(ValueError):
    def __init__(self, schedule: str) -> None:
        super().__init__(
            f"Invalid cron schedule {schedule!r}: use the cron format 'minute hour day_of_month month day_of_week' "
            "(optionally a sixth field for seconds) naming a time still to come, e.g. '*/5 * * * *' for every 5 minutes"
        )


def first_run(schedule: str, timezone: str | None) -> datetime:
    """The schedule's next time from now, in UTC; `InvalidSchedule` if it is not cron or names no time to come."""
    when = next_run(schedule, datetime.now(UTC), timezone) if croniter.is_valid(schedule) else None
    if when is None:
        raise InvalidSchedule(schedule)
    return when


def next_run(schedule: str, after: datetime, timezone: str | None = None) -> datetime | None:
    """The schedule's first time after `after` (read in `timezone`, UTC if None), in UTC; None if there is none."""
    base = after.astimezone(ZoneInfo(timezone) if timezone else UTC)
    try:
        return croniter(schedule, base).get_next(datetime).astimezone(UTC)
    except CroniterError:
        return None


def cron_response(row: Mapping[str, Any]) -> dict[str, Any]:
    """The client's `Cron` shape."""
    response = {
        key: row[key]
        for key in ("cron_id", "assistant_id", "thread_id", "user_id", "schedule", "timezone", "payload", "metadata")
    }
    response["on_run_completed"] = row["on_run_completed"]
    response["enabled"] = bool(row["enabled"])
    for column in _DATES:
        response[column] = _when(row[column]) if row[column] is not None else None
    return response


class CronStore:
    def __init__(self, backend: _Backend) -> None:
        self.backend = backend
        self._lock_rows = " FOR UPDATE SKIP LOCKED" if isinstance(backend, _PostgresBackend) else ""

    @classmethod
    def postgres(cls, pool: AsyncConnectionPool) -> CronStore:
        return cls(_PostgresBackend(pool, _JSON_COLUMNS))

    @classmethod
    def sqlite(cls, conn: aiosqlite.Connection, lock: asyncio.Lock) -> CronStore:
        return cls(_SqliteBackend(conn, lock, _JSON_COLUMNS))

    def _params(self, fields: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(self.backend.value(column, value) for column, value in fields.items())

    async def create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Insert a cron (`fields` name every column)."""
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        async with self.backend.transaction() as tx:
            rows = await tx.fetch(
                f"INSERT INTO crons ({columns}) VALUES ({marks}) RETURNING *",  # noqa: S608 - column names from code
                self._params(fields),
            )
        return rows[0]

    async def get(self, cron_id: str) -> dict[str, Any]:
        async with self.backend.transaction() as tx:
            rows = await tx.fetch("SELECT * FROM crons WHERE cron_id = ?", (cron_id,))
        if not rows:
            raise CronNotFound(cron_id)
        return rows[0]

    async def update(self, cron_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set the columns in `changes` (and `updated_at`)."""
        fields = {**changes, "updated_at": datetime.now(UTC)}
        assignments = ", ".join(f"{column} = ?" for column in fields)
        async with self.backend.transaction() as tx:
            rows = await tx.fetch(
                f"UPDATE crons SET {assignments} WHERE cron_id = ? RETURNING *",  # noqa: S608 - column names from code
                (*self._params(fields), cron_id),
            )
        if not rows:
            raise CronNotFound(cron_id)
        return rows[0]

    async def delete(self, cron_id: str) -> None:
        async with self.backend.transaction() as tx:
            if not await tx.fetch("DELETE FROM crons WHERE cron_id = ? RETURNING cron_id", (cron_id,)):
                raise CronNotFound(cron_id)

    async def delete_for_thread(self, thread_id: str) -> None:
        async with self.backend.transaction() as tx:
            await tx.fetch("DELETE FROM crons WHERE thread_id = ?", (thread_id,))

    async def search(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every cron matching the filters (metadata: contains these keys and values), in no particular order."""
        wanted = {"assistant_id": assistant_id, "thread_id": thread_id, "enabled": enabled}
        columns = {column: value for column, value in wanted.items() if value is not None}
        where = " AND ".join(f"{column} = ?" for column in columns) or "true"
        async with self.backend.transaction() as tx:
            rows = await tx.fetch(f"SELECT * FROM crons WHERE {where}", self._params(columns))  # noqa: S608 - code's
        return [row for row in rows if _contains(row["metadata"], metadata)]

    async def claim(self, now: datetime | None = None, limit: int = CLAIM_BATCH) -> list[dict[str, Any]]:
        """Take the crons due at `now` (enabled, before their end time) and move each to its next time after `now`;
        return them as they were when claimed. A cron another replica is claiming is skipped."""
        now = now or datetime.now(UTC)
        stamp = self.backend.value("now", now)
        claimed = []
        async with self.backend.transaction() as tx:
            due = await tx.fetch(
                "SELECT * FROM crons WHERE enabled AND next_run_date <= ? AND (end_time IS NULL OR end_time > ?) "  # noqa: S608
                f"ORDER BY next_run_date LIMIT ?{self._lock_rows}",
                (stamp, stamp, limit),
            )
            for row in due:
                following = next_run(row["schedule"], now, row["timezone"])
                moved = await tx.fetch(  # a schedule with no time left fires this last time and is disabled
                    "UPDATE crons SET next_run_date = ?, enabled = ? WHERE cron_id = ? AND next_run_date = ? "
                    "RETURNING cron_id",
                    (
                        self.backend.value("next_run_date", following or row["next_run_date"]),
                        following is not None, row["cron_id"], row["next_run_date"],
                    ),
                )  # fmt: skip
                if moved:
                    claimed.append(row)
        return claimed
