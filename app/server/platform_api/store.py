"""Thread records of the LangGraph Server API, in the server's own `threads` table.

One row per thread: its metadata, its status, and the values and pending interrupts of its latest
checkpoint (copied at the end of each run so `threads.get`/`threads.search` need no graph). The
checkpoints themselves stay in the checkpointer's tables.

The run engine (`app.server.engine`) marks a thread busy and records each run's outcome here, in the
same statements that decide and settle its runs; a busy thread cannot be deleted.

PostgreSQL filters metadata with `@>` on a GIN index. The embedded SQLite store (development, one
process) filters metadata in Python after a plain scan.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from .serde import dumps

THREADS_TABLE = "threads"
# What else a deleted thread takes with it, besides its checkpoints (the checkpointer deletes those itself).
_DEPENDENTS = (
    "DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM runs WHERE thread_id = {mark})",
    "DELETE FROM runs WHERE thread_id = {mark}",
    "DELETE FROM crons WHERE thread_id = {mark}",
)


class ThreadNotFound(Exception):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id!r} not found")


class ThreadExists(Exception):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id!r} already exists")


class ThreadBusy(Exception):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id!r} is busy with a run; wait for it to finish (runs.join) or cancel it")


@dataclass(frozen=True)
class SearchFilter:
    metadata: Mapping[str, Any] | None = None
    values: Mapping[str, Any] | None = None
    ids: list[str] | None = None
    status: str | None = None


def thread_response(row: Mapping[str, Any]) -> dict[str, Any]:
    """The client's `Thread` shape from a row of either backend."""

    def when(value: datetime | str) -> str:
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "thread_id": row["thread_id"],
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
        "state_updated_at": when(row["updated_at"]),  # a thread's row changes with its state and status
        "metadata": row["metadata"],
        "status": row["status"],
        "config": {"configurable": {}},
        "values": row["state_values"],
        "interrupts": row["interrupts"],
        "error": None,  # a failed run's error is on the run (`runs.get`), not copied to its thread
    }


def _contains(superset: Any, subset: Any) -> bool:
    """JSONB `@>` semantics for the SQLite backend: every key/value of `subset` is in `superset`."""
    if isinstance(subset, Mapping):
        return isinstance(superset, Mapping) and all(
            key in superset and _contains(superset[key], value) for key, value in subset.items()
        )
    if isinstance(subset, list):
        return isinstance(superset, list) and all(any(_contains(s, item) for s in superset) for item in subset)
    return superset == subset


class ThreadStore(Protocol):
    """Operations on thread rows, implemented for PostgreSQL and for the embedded SQLite."""

    async def create(self, thread_id: str, metadata: Mapping[str, Any], *, if_exists: str) -> dict[str, Any]:
        """Insert an idle thread; an existing one raises `ThreadExists` or, with "do_nothing", is returned."""
        ...

    async def get(self, thread_id: str) -> dict[str, Any]: ...

    async def merge_metadata(self, thread_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]: ...

    async def delete(self, thread_id: str) -> None:
        """Delete an idle thread whole (row, checkpoints, runs and their events, crons) as one step for the runs
        submitted meanwhile: such a run finds the old thread or none, never a half-deleted one, and nothing it
        writes is deleted. Raises `ThreadNotFound` or `ThreadBusy` (then nothing is deleted)."""
        ...

    async def search(
        self, where: SearchFilter, *, limit: int, offset: int, sort_by: str, sort_order: str
    ) -> list[dict[str, Any]]: ...

    async def count(self, where: SearchFilter) -> int: ...


class PostgresThreadStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _one(self, query: str | sql.Composed, params: Mapping[str, Any]) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def create(self, thread_id: str, metadata: Mapping[str, Any], *, if_exists: str) -> dict[str, Any]:
        row = await self._one(
            "INSERT INTO threads (thread_id, metadata) VALUES (%(id)s, %(metadata)s) "
            "ON CONFLICT (thread_id) DO NOTHING RETURNING *",
            {"id": thread_id, "metadata": Jsonb(metadata, dumps=dumps)},
        )
        if row is not None:
            return row
        if if_exists == "raise":
            raise ThreadExists(thread_id)
        return await self.get(thread_id)

    async def get(self, thread_id: str) -> dict[str, Any]:
        row = await self._one("SELECT * FROM threads WHERE thread_id = %(id)s", {"id": thread_id})
        if row is None:
            raise ThreadNotFound(thread_id)
        return row

    async def merge_metadata(self, thread_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        row = await self._one(
            "UPDATE threads SET metadata = metadata || %(metadata)s, updated_at = now() "
            "WHERE thread_id = %(id)s RETURNING *",
            {"id": thread_id, "metadata": Jsonb(metadata, dumps=dumps)},
        )
        if row is None:
            raise ThreadNotFound(thread_id)
        return row

    async def delete(self, thread_id: str) -> None:
        # One transaction, the row first: a run submitted meanwhile waits for the row (its insert or its lock)
        # until the whole thread is gone, then creates the thread afresh or finds it missing.
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM threads WHERE thread_id = %(id)s AND status <> 'busy' RETURNING thread_id",
                {"id": thread_id},
            )
            if await cursor.fetchone() is not None:
                await AsyncPostgresSaver(conn).adelete_thread(thread_id)
                for statement in _DEPENDENTS:
                    await conn.execute(statement.format(mark="%(id)s"), {"id": thread_id})  # type: ignore[arg-type]
                return
        await self.get(thread_id)  # raises ThreadNotFound when missing
        raise ThreadBusy(thread_id)

    def _where(self, where: SearchFilter) -> tuple[sql.Composable, dict[str, Any]]:
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: dict[str, Any] = {}
        if where.metadata:
            clauses.append(sql.SQL("metadata @> %(metadata)s"))
            params["metadata"] = Jsonb(where.metadata, dumps=dumps)
        if where.values:
            clauses.append(sql.SQL("state_values @> %(values)s"))
            params["values"] = Jsonb(where.values, dumps=dumps)
        if where.ids:
            clauses.append(sql.SQL("thread_id = ANY(%(ids)s)"))
            params["ids"] = list(where.ids)
        if where.status:
            clauses.append(sql.SQL("status = %(status)s"))
            params["status"] = where.status
        return sql.SQL(" AND ").join(clauses), params

    async def search(
        self, where: SearchFilter, *, limit: int, offset: int, sort_by: str, sort_order: str
    ) -> list[dict[str, Any]]:
        condition, params = self._where(where)
        query = sql.SQL("SELECT * FROM threads WHERE {} ORDER BY {} {}, thread_id LIMIT %(limit)s OFFSET %(offset)s")
        direction = sql.SQL("DESC" if sort_order == "desc" else "ASC")
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                query.format(condition, sql.Identifier(sort_by), direction),
                {**params, "limit": limit, "offset": offset},
            )
            return await cursor.fetchall()

    async def count(self, where: SearchFilter) -> int:
        condition, params = self._where(where)
        row = await self._one(sql.SQL("SELECT count(*) AS n FROM threads WHERE {}").format(condition), params)
        assert row is not None
        return row["n"]


class SqliteThreadStore:
    """The embedded store: one process, one aiosqlite connection (shared with the checkpointer)."""

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock  # the checkpointer's: statements on the shared connection never interleave

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat()

    @staticmethod
    def _row(cursor: aiosqlite.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
        row = {column[0]: value for column, value in zip(cursor.description, raw, strict=True)}
        for key in ("metadata", "state_values", "interrupts"):
            if row.get(key) is not None:
                row[key] = json.loads(row[key])
        return row

    async def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.lock, self.conn.execute(query, params) as cursor:
            return [self._row(cursor, raw) for raw in await cursor.fetchall()]

    async def _write(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self.lock:
            try:
                async with self.conn.execute(query, params) as cursor:
                    rows = [self._row(cursor, raw) for raw in await cursor.fetchall()]
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()
            return rows

    async def create(self, thread_id: str, metadata: Mapping[str, Any], *, if_exists: str) -> dict[str, Any]:
        now = self._now()
        rows = await self._write(
            "INSERT INTO threads (thread_id, created_at, updated_at, metadata) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (thread_id) DO NOTHING RETURNING *",
            (thread_id, now, now, dumps(metadata)),
        )
        if rows:
            return rows[0]
        if if_exists == "raise":
            raise ThreadExists(thread_id)
        return await self.get(thread_id)

    async def get(self, thread_id: str) -> dict[str, Any]:
        rows = await self._fetch("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        if not rows:
            raise ThreadNotFound(thread_id)
        return rows[0]

    async def merge_metadata(self, thread_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        rows = await self._write(
            "UPDATE threads SET metadata = json_patch(metadata, ?), updated_at = ? WHERE thread_id = ? RETURNING *",
            (dumps(metadata), self._now(), thread_id),
        )
        if not rows:
            raise ThreadNotFound(thread_id)
        return rows[0]

    async def delete(self, thread_id: str) -> None:
        # Under the connection's lock: no statement of a run submitted meanwhile comes between the steps. The
        # checkpoints go first (the checkpointer commits on its own), the rows after, so a delete cut in between
        # leaves a thread without checkpoints, which deleting again finishes, not checkpoints without a thread.
        async with self.lock:
            async with self.conn.execute("SELECT status FROM threads WHERE thread_id = ?", (thread_id,)) as cursor:
                found = await cursor.fetchone()
            if found is None:
                raise ThreadNotFound(thread_id)
            if found[0] == "busy":
                raise ThreadBusy(thread_id)
            await AsyncSqliteSaver(self.conn).adelete_thread(thread_id)  # its own lock; this one is held
            try:
                await self.conn.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))
                for statement in _DEPENDENTS:
                    await self.conn.execute(statement.format(mark="?"), (thread_id,))
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    async def _matching(self, where: SearchFilter) -> list[dict[str, Any]]:
        rows = await self._fetch("SELECT * FROM threads")
        return [
            row
            for row in rows
            if (not where.metadata or _contains(row["metadata"], where.metadata))
            and (not where.values or _contains(row["state_values"], where.values))
            and (not where.ids or row["thread_id"] in where.ids)
            and (not where.status or row["status"] == where.status)
        ]

    async def search(
        self, where: SearchFilter, *, limit: int, offset: int, sort_by: str, sort_order: str
    ) -> list[dict[str, Any]]:
        rows = sorted(await self._matching(where), key=lambda row: row["thread_id"])
        rows.sort(key=lambda row: row[sort_by], reverse=sort_order == "desc")
        return rows[offset : offset + limit]

    async def count(self, where: SearchFilter) -> int:
        return len(await self._matching(where))
