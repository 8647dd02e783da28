"""Assistant records of the LangGraph Server API: `assistants` (current version) and `assistant_versions`.

Each registered graph has a default ("system") assistant whose id is `uuid5(NAMESPACE_GRAPH, graph_id)`, as
LangGraph Platform mints it; it is written once per process, on first use, if it is not there yet. Other
assistants are created from a graph with their own config, context and metadata; an update is a new version
(and becomes the current one), `set_latest` makes any version current again.

One implementation serves both backends through `_Backend` (PostgreSQL on the pool, the embedded SQLite on
the checkpointer's connection and lock). Assistants are few, so metadata filters and sorting run in Python.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from ..registry import default_assistant_id
from .serde import dumps

SYSTEM_METADATA = {"created_by": "system"}
DEFAULT_NAME = "Untitled"
THREAD_NOT_READ = object()
"""`get_with_thread_metadata`'s answer for the thread's metadata where the backend did not read it."""
_JSON_COLUMNS = ("config", "context", "metadata")
_FIELDS = ("graph_id", "name", "description", "config", "context", "metadata")


class AssistantNotFound(LookupError):
    def __init__(self, assistant_id: str, version: int | None = None) -> None:
        what = f"Assistant {assistant_id!r}" + (f" has no version {version}" if version is not None else " not found")
        super().__init__(what)


class AssistantExists(Exception):
    def __init__(self, assistant_id: str) -> None:
        super().__init__(f"Assistant {assistant_id!r} already exists")


class _Transaction(Protocol):
    async def fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...


class _Backend(Protocol):
    def transaction(self) -> Any:
        """An async context manager yielding a `_Transaction`; statements in it commit together."""
        ...

    def value(self, column: str, value: Any) -> Any:
        """`value` as a query parameter for `column`."""
        ...

    def read(self) -> Any:
        """Like `transaction`, for one statement that only reads (PostgreSQL: no BEGIN and COMMIT round trips)."""
        ...


class _PostgresTransaction:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = await self.conn.execute(query.replace("?", "%s"), params)
        return await cursor.fetchall() if cursor.description else []


class _PostgresBackend:
    def __init__(self, pool: AsyncConnectionPool, json_columns: tuple[str, ...] = _JSON_COLUMNS) -> None:
        self.pool, self.json_columns = pool, json_columns

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        async with self.pool.connection() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[_PostgresTransaction]:
        async with self.pool.connection() as conn:  # autocommit: the statement is its own transaction
            yield _PostgresTransaction(conn)

    def value(self, column: str, value: Any) -> Any:
        return Jsonb(value, dumps=dumps) if column in self.json_columns else value


class _SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection, json_columns: tuple[str, ...]) -> None:
        self.conn, self.json_columns = conn, json_columns

    async def fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.conn.execute(query, params) as cursor:
            raws = await cursor.fetchall()
            names = [column[0] for column in cursor.description or ()]
        rows = [dict(zip(names, raw, strict=True)) for raw in raws]
        for row in rows:
            for column in self.json_columns:
                if isinstance(row.get(column), str):
                    row[column] = json.loads(row[column])
        return rows


class _SqliteBackend:
    def __init__(
        self, conn: aiosqlite.Connection, lock: asyncio.Lock, json_columns: tuple[str, ...] = _JSON_COLUMNS
    ) -> None:
        self.conn, self.lock, self.json_columns = conn, lock, json_columns

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTransaction]:
        async with self.lock:
            try:
                yield _SqliteTransaction(self.conn, self.json_columns)
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    def read(self) -> Any:
        return self.transaction()

    def value(self, column: str, value: Any) -> Any:
        if column in self.json_columns:
            return dumps(value)
        return value.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def _when(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def assistant_response(row: Mapping[str, Any]) -> dict[str, Any]:
    """The client's `Assistant` (or, for a version row, `AssistantVersion`) shape."""
    response = {key: row[key] for key in ("assistant_id", "version", *_FIELDS)}
    response["created_at"] = _when(row["created_at"])
    if "updated_at" in row:
        response["updated_at"] = _when(row["updated_at"])
    return response


def _contains(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    return all(metadata.get(key) == value for key, value in (wanted or {}).items())


class AssistantStore:
    """Operations on assistant records; `graphs` are the registered graph ids (their default assistants)."""

    def __init__(self, backend: _Backend, graphs: Iterable[tuple[str, str | None]]) -> None:
        self.backend = backend
        self.graphs = list(graphs)  # (graph id, description)
        self._defaults_written = False

    @classmethod
    def postgres(cls, pool: AsyncConnectionPool, graphs: Iterable[tuple[str, str | None]]) -> AssistantStore:
        return cls(_PostgresBackend(pool), graphs)

    @classmethod
    def sqlite(
        cls, conn: aiosqlite.Connection, lock: asyncio.Lock, graphs: Iterable[tuple[str, str | None]]
    ) -> AssistantStore:
        return cls(_SqliteBackend(conn, lock), graphs)

    async def _insert(self, tx: _Transaction, assistant_id: str, fields: Mapping[str, Any], version: int) -> None:
        now = datetime.now(UTC)
        value = self.backend.value
        columns = ", ".join(_FIELDS)
        params = tuple(value(column, fields[column]) for column in _FIELDS)
        if version == 1:
            await tx.fetch(
                f"INSERT INTO assistants (assistant_id, version, {columns}, created_at, updated_at) "  # noqa: S608
                "VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (assistant_id, *params, value("created_at", now), value("updated_at", now)),
            )
        await tx.fetch(
            f"INSERT INTO assistant_versions (assistant_id, version, {columns}, created_at) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (assistant_id, version, *params, value("created_at", now)),
        )

    async def _make_current(self, tx: _Transaction, assistant_id: str, fields: Mapping[str, Any], version: int) -> None:
        value = self.backend.value
        assignments = ", ".join(f"{column} = ?" for column in _FIELDS)
        await tx.fetch(
            f"UPDATE assistants SET {assignments}, version = ?, updated_at = ? WHERE assistant_id = ?",  # noqa: S608
            (*(value(c, fields[c]) for c in _FIELDS), version, value("updated_at", datetime.now(UTC)), assistant_id),
        )

    async def _ensure_defaults(self) -> None:
        """Write the default assistant of each registered graph, once per process (nothing if it exists)."""
        if self._defaults_written:
            return
        async with self.backend.transaction() as tx:
            for graph_id, description in self.graphs:
                fields = {
                    "graph_id": graph_id, "name": graph_id, "description": description,
                    "config": {}, "context": {}, "metadata": SYSTEM_METADATA,
                }  # fmt: skip
                await self._insert(tx, default_assistant_id(graph_id), fields, 1)
        self._defaults_written = True

    async def _row(self, tx: _Transaction, assistant_id: str, *, lock: bool = False) -> dict[str, Any]:
        suffix = " FOR UPDATE" if lock and isinstance(self.backend, _PostgresBackend) else ""
        rows = await tx.fetch(f"SELECT * FROM assistants WHERE assistant_id = ?{suffix}", (assistant_id,))  # noqa: S608
        if not rows:
            raise AssistantNotFound(assistant_id)
        return rows[0]

    async def get(self, assistant_id: str) -> dict[str, Any]:
        await self._ensure_defaults()
        async with self.backend.read() as tx:
            return await self._row(tx, assistant_id)

    async def get_with_thread_metadata(self, assistant_id: str, thread_id: str) -> tuple[dict[str, Any], Any]:
        """The assistant (as `get`) and, read by the same statement, the metadata of thread `thread_id` (None if
        there is no such thread): one round trip where a run needs both. PostgreSQL only; SQLite answers
        `THREAD_NOT_READ` in place of the metadata, for the caller to read it from the thread store."""
        if not isinstance(self.backend, _PostgresBackend):
            return await self.get(assistant_id), THREAD_NOT_READ
        await self._ensure_defaults()
        async with self.backend.read() as tx:
            rows = await tx.fetch(
                "SELECT a.*, (SELECT t.metadata FROM threads t WHERE t.thread_id = ?) AS app_thread_metadata "
                "FROM assistants a WHERE a.assistant_id = ?",
                (thread_id, assistant_id),
            )
        if not rows:
            raise AssistantNotFound(assistant_id)
        row = rows[0]
        return row, row.pop("app_thread_metadata")

    async def create(self, assistant_id: str, fields: Mapping[str, Any], *, if_exists: str) -> dict[str, Any]:
        """Insert version 1; an existing id raises `AssistantExists` or, with "do_nothing", is returned."""
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            if await tx.fetch("SELECT 1 AS found FROM assistants WHERE assistant_id = ?", (assistant_id,)):
                if if_exists != "do_nothing":
                    raise AssistantExists(assistant_id)
            else:
                await self._insert(tx, assistant_id, fields, 1)
            return await self._row(tx, assistant_id)

    async def update(self, assistant_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Record a new version from the current one with `changes` (metadata merged) and make it current."""
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            current = await self._row(tx, assistant_id, lock=True)
            fields = {column: current[column] for column in _FIELDS}
            fields.update({key: value for key, value in changes.items() if key != "metadata"})
            fields["metadata"] = {**current["metadata"], **(changes.get("metadata") or {})}
            rows = await tx.fetch(
                "SELECT max(version) AS latest FROM assistant_versions WHERE assistant_id = ?", (assistant_id,)
            )
            version = int(rows[0]["latest"] or 0) + 1
            await self._insert(tx, assistant_id, fields, version)
            await self._make_current(tx, assistant_id, fields, version)
            return await self._row(tx, assistant_id)

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any]:
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            await self._row(tx, assistant_id, lock=True)
            rows = await tx.fetch(
                "SELECT * FROM assistant_versions WHERE assistant_id = ? AND version = ?", (assistant_id, version)
            )
            if not rows:
                raise AssistantNotFound(assistant_id, version)
            await self._make_current(tx, assistant_id, rows[0], version)
            return await self._row(tx, assistant_id)

    async def versions(
        self, assistant_id: str, metadata: Mapping[str, Any] | None, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """The assistant's versions, newest first, whose metadata contains `metadata`."""
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            await self._row(tx, assistant_id)
            rows = await tx.fetch(
                "SELECT * FROM assistant_versions WHERE assistant_id = ? ORDER BY version DESC", (assistant_id,)
            )
        return [row for row in rows if _contains(row["metadata"], metadata)][offset : offset + limit]

    async def delete(self, assistant_id: str) -> None:
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            await self._row(tx, assistant_id)
            await tx.fetch("DELETE FROM assistant_versions WHERE assistant_id = ?", (assistant_id,))
            await tx.fetch("DELETE FROM assistants WHERE assistant_id = ?", (assistant_id,))

    async def search(
        self, *, graph_id: str | None, name: str | None, metadata: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Every assistant of `graph_id` (all if None) whose name contains `name` and metadata `metadata`,
        newest first."""
        await self._ensure_defaults()
        async with self.backend.transaction() as tx:
            if graph_id is None:
                rows = await tx.fetch("SELECT * FROM assistants")
            else:
                rows = await tx.fetch("SELECT * FROM assistants WHERE graph_id = ?", (graph_id,))
        found = [
            row
            for row in rows
            if _contains(row["metadata"], metadata) and (name is None or name.lower() in row["name"].lower())
        ]
        found.sort(key=lambda row: (_when(row["created_at"]), row["assistant_id"]), reverse=True)
        return found
