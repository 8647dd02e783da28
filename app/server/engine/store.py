"""Run records on PostgreSQL (any number of processes) and on the embedded SQLite file (one process).

Both stores answer the same calls; the engine never asks which one it has. On PostgreSQL the decision of
a submit (start, queue or refuse) is taken by `app_submit_run` with the thread's row locked; on SQLite
every call runs under the one lock the checkpointer also holds on the shared connection, so statements
never interleave ("cannot commit transaction - SQL statements in progress").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiosqlite
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from ..platform_api.serde import dumps

TERMINAL_STATUSES = ("success", "error", "interrupted", "timeout")


@dataclass(frozen=True)
class Submission:
    """What a submit decided: `outcome` is started | queued | busy | graph_conflict | thread_not_found.

    `bound_graph` is the thread's graph on `graph_conflict`, and on `started` only when this submit created the
    thread (bound to the run's graph)."""

    outcome: str
    bound_graph: str | None = None
    active_run: str | None = None

    @property
    def created_thread(self) -> bool:
        """The run started on a thread this submit created."""
        return self.outcome == "started" and self.bound_graph is not None


@dataclass(frozen=True)
class Expired:
    run_id: str
    thread_id: str
    status: str  # pending (to be resumed), error (retry limit reached) or interrupted (it was being cancelled)


def _lease_error(attempts: int, worker: str | None) -> str:
    return f"the run's worker ({worker}) stopped renewing its lease; gave up after {attempts} attempts"


class RunStore(Protocol):
    async def submit(
        self, run: Mapping[str, Any], *, create_thread: bool, start: bool, worker: str, lease: timedelta
    ) -> Submission: ...

    async def finish(
        self, run_id: str, worker: str, *, status: str, error: str | None, thread_status: str, values: Any,
        interrupts: Mapping[str, Any], temporary: bool,
    ) -> bool: ...  # fmt: skip

    async def requeue(self, run_id: str, worker: str) -> None: ...

    async def take(self, worker: str, lease: timedelta) -> dict[str, Any] | None: ...

    async def heartbeat(self, worker: str, lease: timedelta, run_ids: list[str]) -> dict[str, str | None]:
        """Renew the leases of `run_ids` (executing in this process); their requested cancellations."""
        ...

    async def rollback(self, run_id: str, thread_id: str) -> None:
        """Delete the run and the checkpoints it wrote (multitask_strategy / cancel action "rollback")."""
        ...

    async def last_seq(self, run_id: str) -> int: ...

    async def expire(self, max_attempts: int) -> list[Expired]: ...

    async def get(self, run_id: str) -> dict[str, Any] | None: ...

    async def list(self, thread_id: str, *, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]: ...

    async def cancel(self, run_id: str, action: str) -> dict[str, Any] | None: ...

    async def active(self, statuses: tuple[str, ...]) -> list[str]:
        """The ids of every run (on any thread) whose status is one of `statuses`, oldest first."""
        ...

    async def delete(self, run_id: str) -> bool: ...

    async def add_events(self, run_id: str, first_seq: int, events: list[tuple[str, str]]) -> None: ...

    async def events_after(self, run_id: str, seq: int) -> list[tuple[int, str, str]]: ...

    async def pending_count(self) -> int: ...


class PostgresRunStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _one(self, query: str, params: Mapping[str, Any] | tuple = ()) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def _all(self, query: str, params: Mapping[str, Any] | tuple = ()) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def submit(
        self, run: Mapping[str, Any], *, create_thread: bool, start: bool, worker: str, lease: timedelta
    ) -> Submission:
        row = await self._one(
            "SELECT * FROM app_submit_run(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run["run_id"], run["thread_id"], run["graph_id"], run["multitask_strategy"], create_thread,
                Jsonb(run["kwargs"], dumps=dumps), Jsonb(run["metadata"], dumps=dumps), run["temporary"], start,
                worker, lease,
            ),
        )  # fmt: skip
        assert row is not None
        return Submission(row["outcome"], row["bound_graph"], row["active_run"])

    async def finish(
        self, run_id: str, worker: str, *, status: str, error: str | None, thread_status: str, values: Any,
        interrupts: Mapping[str, Any], temporary: bool,
    ) -> bool:  # fmt: skip
        params = {
            "run": run_id, "worker": worker, "status": status, "error": error, "thread_status": thread_status,
            "values": None if values is None else Jsonb(values, dumps=dumps),
            "interrupts": Jsonb(interrupts, dumps=dumps),
        }  # fmt: skip
        if temporary:
            row = await self._one(
                "WITH done AS (DELETE FROM runs WHERE run_id = %(run)s AND worker_id = %(worker)s "
                "AND status = 'running' RETURNING thread_id), gone AS (DELETE FROM threads t USING done "
                "WHERE t.thread_id = done.thread_id) SELECT thread_id FROM done",
                params,
            )
            return row is not None
        row = await self._one(
            "WITH done AS (UPDATE runs SET status = %(status)s, error = %(error)s, ended_at = now(), "
            "updated_at = now(), worker_id = NULL, lease_expires_at = NULL, cancel_requested = NULL "
            "WHERE run_id = %(run)s AND worker_id = %(worker)s AND status = 'running' RETURNING thread_id) "
            "UPDATE threads t SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id "
            "AND r.status = 'pending') THEN 'busy' ELSE %(thread_status)s END, "
            "state_values = coalesce(%(values)s, t.state_values), interrupts = %(interrupts)s, updated_at = now() "
            "FROM done WHERE t.thread_id = done.thread_id RETURNING t.thread_id",
            params,
        )
        return row is not None

    async def requeue(self, run_id: str, worker: str) -> None:
        await self._one(
            "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, updated_at = now() "
            "WHERE run_id = %s AND worker_id = %s AND status = 'running' RETURNING run_id",
            (run_id, worker),
        )

    async def take(self, worker: str, lease: timedelta) -> dict[str, Any] | None:
        try:
            return await self._one(
                "WITH next AS (SELECT r.run_id FROM runs r WHERE r.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.thread_id = r.thread_id AND a.status = 'running') "
                "AND NOT EXISTS (SELECT 1 FROM runs b WHERE b.thread_id = r.thread_id AND b.status = 'pending' "
                "AND (b.created_at, b.run_id) < (r.created_at, r.run_id)) "
                "ORDER BY r.created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                "UPDATE runs r SET status = 'running', worker_id = %s, lease_expires_at = now() + %s, "
                "started_at = coalesce(r.started_at, now()), attempts = r.attempts + 1, updated_at = now() "
                "FROM next WHERE r.run_id = next.run_id RETURNING r.*, "
                "extract(epoch FROM now() - r.created_at)::float AS waited_seconds",
                (worker, lease),
            )
        except pg_errors.UniqueViolation:  # another worker started a run of that thread at the same moment
            return None

    async def heartbeat(self, worker: str, lease: timedelta, run_ids: list[str]) -> dict[str, str | None]:
        rows = await self._all(
            "UPDATE runs SET lease_expires_at = now() + %s WHERE worker_id = %s AND status = 'running' "
            "AND run_id = ANY(%s) RETURNING run_id, cancel_requested",
            (lease, worker, run_ids),
        )
        return {row["run_id"]: row["cancel_requested"] for row in rows}

    async def rollback(self, run_id: str, thread_id: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            written = (
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %(thread)s AND metadata->>'run_id' = %(run)s"
            )
            await conn.execute(
                f"DELETE FROM checkpoint_writes WHERE thread_id = %(thread)s AND checkpoint_id IN ({written})",  # noqa: S608
                {"thread": thread_id, "run": run_id},
            )
            await conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = %(thread)s AND metadata->>'run_id' = %(run)s",
                {"thread": thread_id, "run": run_id},
            )
            await conn.execute("DELETE FROM run_events WHERE run_id = %s", (run_id,))

    async def last_seq(self, run_id: str) -> int:
        row = await self._one("SELECT coalesce(max(seq), 0) AS seq FROM run_events WHERE run_id = %s", (run_id,))
        assert row is not None
        return row["seq"]

    async def expire(self, max_attempts: int) -> list[Expired]:
        rows = await self._all(
            "WITH expired AS (SELECT run_id FROM runs WHERE status = 'running' AND lease_expires_at < now() "
            "FOR UPDATE SKIP LOCKED) "
            "UPDATE runs r SET status = CASE WHEN r.cancel_requested IS NOT NULL THEN 'interrupted' "
            "WHEN r.attempts >= %(max)s THEN 'error' ELSE 'pending' END, "
            "error = CASE WHEN r.cancel_requested IS NULL AND r.attempts >= %(max)s THEN "
            "'the run''s worker (' || coalesce(r.worker_id, '?') || ') stopped renewing its lease; gave up after ' "
            "|| r.attempts || ' attempts' ELSE r.error END, "
            "ended_at = CASE WHEN r.cancel_requested IS NOT NULL OR r.attempts >= %(max)s THEN now() END, "
            "worker_id = NULL, lease_expires_at = NULL, updated_at = now() "
            "FROM expired WHERE r.run_id = expired.run_id RETURNING r.run_id, r.thread_id, r.status",
            {"max": max_attempts},
        )
        expired = [Expired(row["run_id"], row["thread_id"], row["status"]) for row in rows]
        settled = [e.thread_id for e in expired if e.status != "pending"]
        if settled:
            await self._all(
                "UPDATE threads t SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id "
                "AND r.status IN ('pending', 'running')) THEN 'busy' ELSE 'error' END, updated_at = now() "
                "WHERE thread_id = ANY(%s) RETURNING thread_id",
                (settled,),
            )
        return expired

    async def get(self, run_id: str) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM runs WHERE run_id = %s", (run_id,))

    async def list(self, thread_id: str, *, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * FROM runs WHERE thread_id = %s AND (%s::text IS NULL OR status = %s) "
            "ORDER BY created_at DESC, run_id LIMIT %s OFFSET %s",
            (thread_id, status, status, limit, offset),
        )

    async def active(self, statuses: tuple[str, ...]) -> list[str]:
        rows = await self._all(
            "SELECT run_id FROM runs WHERE status = ANY(%s) ORDER BY created_at, run_id", (list(statuses),)
        )
        return [row["run_id"] for row in rows]

    async def cancel(self, run_id: str, action: str) -> dict[str, Any] | None:
        row = await self._one(
            "UPDATE runs SET status = CASE WHEN status = 'pending' THEN 'interrupted' ELSE status END, "
            "ended_at = CASE WHEN status = 'pending' THEN now() ELSE ended_at END, "
            "cancel_requested = CASE WHEN status = 'running' THEN %s ELSE cancel_requested END, updated_at = now() "
            "WHERE run_id = %s RETURNING *",
            (action, run_id),
        )
        if row is not None and row["status"] == "interrupted" and row["worker_id"] is None:
            await self._settle_thread(row["thread_id"])
        return row

    async def _settle_thread(self, thread_id: str) -> None:
        await self._all(
            "UPDATE threads t SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id "
            "AND r.status IN ('pending', 'running')) THEN 'busy' WHEN interrupts <> '{}'::jsonb THEN 'interrupted' "
            "ELSE 'idle' END, updated_at = now() WHERE thread_id = %s RETURNING thread_id",
            (thread_id,),
        )

    async def delete(self, run_id: str) -> bool:
        row = await self._one(
            "WITH gone AS (DELETE FROM runs WHERE run_id = %s AND status NOT IN ('pending', 'running') "
            "RETURNING run_id), events AS (DELETE FROM run_events e USING gone WHERE e.run_id = gone.run_id) "
            "SELECT run_id FROM gone",
            (run_id,),
        )
        return row is not None

    async def add_events(self, run_id: str, first_seq: int, events: list[tuple[str, str]]) -> None:
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO run_events (run_id, seq, event, data) VALUES (%s, %s, %s, %s)",
                [(run_id, first_seq + i, event, data) for i, (event, data) in enumerate(events)],
            )

    async def events_after(self, run_id: str, seq: int) -> list[tuple[int, str, str]]:
        rows = await self._all(
            "SELECT seq, event, data FROM run_events WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT 1000",
            (run_id, seq),
        )
        return [(row["seq"], row["event"], row["data"]) for row in rows]

    async def pending_count(self) -> int:
        row = await self._one("SELECT count(*) AS n FROM runs WHERE status = 'pending'")
        assert row is not None
        return row["n"]


class SqliteRunStore:
    """One process: the lock it shares with the checkpointer makes each method atomic."""

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock

    @staticmethod
    def _now(delta: timedelta = timedelta()) -> str:
        return (datetime.now(UTC) + delta).isoformat()

    @staticmethod
    def _row(cursor: aiosqlite.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
        row = {column[0]: value for column, value in zip(cursor.description, raw, strict=True)}
        for key in ("kwargs", "metadata", "state_values", "interrupts"):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key])
        if "temporary" in row:
            row["temporary"] = bool(row["temporary"])
        return row

    async def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.conn.execute(query, params) as cursor:
            return [self._row(cursor, raw) for raw in await cursor.fetchall()]

    async def _transaction(self, work: Any) -> Any:
        async with self.lock:
            try:
                result = await work()
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()
            return result

    async def submit(
        self, run: Mapping[str, Any], *, create_thread: bool, start: bool, worker: str, lease: timedelta
    ) -> Submission:
        graph_id, thread_id, now = run["graph_id"], run["thread_id"], self._now()
        assistant_id = run["kwargs"]["config"]["configurable"]["assistant_id"]
        binding = dumps({"graph_id": graph_id, "assistant_id": assistant_id})

        async def work() -> Submission:
            created = False
            if create_thread:
                async with self.conn.execute(
                    "INSERT INTO threads (thread_id, created_at, updated_at, metadata) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (thread_id) DO NOTHING",
                    (thread_id, now, now, binding),
                ) as cursor:
                    created = cursor.rowcount == 1
            threads = await self._fetch("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
            if not threads:
                return Submission("thread_not_found")
            thread = threads[0]
            bound = thread["metadata"].get("graph_id")
            if bound is not None and bound != graph_id:
                return Submission("graph_conflict", bound_graph=bound)
            active = await self._fetch(
                "SELECT run_id FROM runs WHERE thread_id = ? AND status IN ('pending', 'running') "
                "ORDER BY created_at LIMIT 1",
                (thread_id,),
            )
            active_run = active[0]["run_id"] if active else None
            strategy = run["multitask_strategy"]
            if active_run is not None and strategy == "reject":
                return Submission("busy", active_run=active_run)
            if active_run is not None and strategy in ("interrupt", "rollback"):
                await self.conn.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ?, updated_at = ?, error = ? "
                    "WHERE thread_id = ? AND status = 'pending'",
                    (now, now, f"cancelled before it started: a newer run used multitask_strategy {strategy}",
                     thread_id),
                )  # fmt: skip
                await self.conn.execute(
                    "UPDATE runs SET cancel_requested = ?, updated_at = ? WHERE thread_id = ? AND status = 'running'",
                    (strategy, now, thread_id),
                )
            started = active_run is None and start
            await self.conn.execute(
                "INSERT INTO runs (run_id, thread_id, graph_id, status, kwargs, metadata, multitask_strategy, "
                "temporary, created_at, updated_at, started_at, worker_id, lease_expires_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run["run_id"], thread_id, graph_id, "running" if started else "pending", dumps(run["kwargs"]),
                    dumps(run["metadata"]), strategy, int(run["temporary"]), now, now, now if started else None,
                    worker if started else None, self._now(lease) if started else None, 1 if started else 0,
                ),
            )  # fmt: skip
            await self.conn.execute(
                "UPDATE threads SET status = 'busy', updated_at = ?, metadata = json_patch(metadata, ?) "
                "WHERE thread_id = ?",
                (now, binding, thread_id),
            )
            if not started:
                return Submission("queued", active_run=active_run)
            return Submission("started", bound_graph=graph_id if created else None, active_run=active_run)

        return await self._transaction(work)

    async def finish(
        self, run_id: str, worker: str, *, status: str, error: str | None, thread_status: str, values: Any,
        interrupts: Mapping[str, Any], temporary: bool,
    ) -> bool:  # fmt: skip
        now = self._now()

        async def work() -> bool:
            rows = await self._fetch(
                "SELECT thread_id FROM runs WHERE run_id = ? AND worker_id = ? AND status = 'running'", (run_id, worker)
            )
            if not rows:
                return False
            thread_id = rows[0]["thread_id"]
            if temporary:
                await self.conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                await self.conn.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))
                return True
            await self.conn.execute(
                "UPDATE runs SET status = ?, error = ?, ended_at = ?, updated_at = ?, worker_id = NULL, "
                "lease_expires_at = NULL, cancel_requested = NULL WHERE run_id = ?",
                (status, error, now, now, run_id),
            )
            await self.conn.execute(
                "UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = ? "
                "AND r.status = 'pending') THEN 'busy' ELSE ? END, state_values = coalesce(?, state_values), "
                "interrupts = ?, updated_at = ? WHERE thread_id = ?",
                (thread_id, thread_status, None if values is None else dumps(values), dumps(interrupts), now,
                 thread_id),
            )  # fmt: skip
            return True

        return await self._transaction(work)

    async def requeue(self, run_id: str, worker: str) -> None:
        async def work() -> None:
            await self.conn.execute(
                "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, updated_at = ? "
                "WHERE run_id = ? AND worker_id = ? AND status = 'running'",
                (self._now(), run_id, worker),
            )

        await self._transaction(work)

    async def take(self, worker: str, lease: timedelta) -> dict[str, Any] | None:
        async def work() -> dict[str, Any] | None:
            rows = await self._fetch(
                "SELECT r.run_id, r.created_at FROM runs r WHERE r.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.thread_id = r.thread_id AND a.status = 'running') "
                "AND NOT EXISTS (SELECT 1 FROM runs b WHERE b.thread_id = r.thread_id AND b.status = 'pending' "
                "AND (b.created_at, b.run_id) < (r.created_at, r.run_id)) ORDER BY r.created_at LIMIT 1"
            )
            if not rows:
                return None
            now = self._now()
            taken = await self._fetch(
                "UPDATE runs SET status = 'running', worker_id = ?, lease_expires_at = ?, "
                "started_at = coalesce(started_at, ?), attempts = attempts + 1, updated_at = ? "
                "WHERE run_id = ? RETURNING *",
                (worker, self._now(lease), now, now, rows[0]["run_id"]),
            )
            run = taken[0]
            run["waited_seconds"] = (datetime.now(UTC) - datetime.fromisoformat(run["created_at"])).total_seconds()
            return run

        return await self._transaction(work)

    async def heartbeat(self, worker: str, lease: timedelta, run_ids: list[str]) -> dict[str, str | None]:
        async def work() -> dict[str, str | None]:
            marks = ", ".join("?" * len(run_ids))
            rows = await self._fetch(
                f"UPDATE runs SET lease_expires_at = ? WHERE worker_id = ? AND status = 'running' "  # noqa: S608
                f"AND run_id IN ({marks}) RETURNING run_id, cancel_requested",
                (self._now(lease), worker, *run_ids),
            )
            return {row["run_id"]: row["cancel_requested"] for row in rows}

        return await self._transaction(work)

    async def rollback(self, run_id: str, thread_id: str) -> None:
        async def work() -> None:
            written = (
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
                "AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?"
            )
            await self.conn.execute(
                f"DELETE FROM writes WHERE thread_id = ? AND checkpoint_id IN ({written})",  # noqa: S608
                (thread_id, thread_id, run_id),
            )
            await self.conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ?",
                (thread_id, run_id),
            )
            await self.conn.execute("DELETE FROM run_events WHERE run_id = ?", (run_id,))

        await self._transaction(work)

    async def last_seq(self, run_id: str) -> int:
        async with self.lock:
            rows = await self._fetch("SELECT coalesce(max(seq), 0) AS seq FROM run_events WHERE run_id = ?", (run_id,))
        return rows[0]["seq"]

    async def expire(self, max_attempts: int) -> list[Expired]:
        async def work() -> list[Expired]:
            now = self._now()
            rows = await self._fetch(
                "SELECT run_id, thread_id, attempts, worker_id, cancel_requested FROM runs "
                "WHERE status = 'running' AND lease_expires_at < ?",
                (now,),
            )
            expired = []
            for row in rows:
                if row["cancel_requested"]:
                    status, error = "interrupted", None
                elif row["attempts"] >= max_attempts:
                    status, error = "error", _lease_error(row["attempts"], row["worker_id"])
                else:
                    status, error = "pending", None
                await self.conn.execute(
                    "UPDATE runs SET status = ?, error = coalesce(?, error), ended_at = ?, worker_id = NULL, "
                    "lease_expires_at = NULL, updated_at = ? WHERE run_id = ?",
                    (status, error, None if status == "pending" else now, now, row["run_id"]),
                )
                if status != "pending":
                    await self.conn.execute(
                        "UPDATE threads SET status = 'error', updated_at = ? WHERE thread_id = ?",
                        (now, row["thread_id"]),
                    )
                expired.append(Expired(row["run_id"], row["thread_id"], status))
            return expired

        return await self._transaction(work)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        async with self.lock:
            rows = await self._fetch("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    async def list(self, thread_id: str, *, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        async with self.lock:
            return await self._fetch(
                "SELECT * FROM runs WHERE thread_id = ? AND (? IS NULL OR status = ?) "
                "ORDER BY created_at DESC, run_id LIMIT ? OFFSET ?",
                (thread_id, status, status, limit, offset),
            )

    async def active(self, statuses: tuple[str, ...]) -> list[str]:
        async with self.lock:
            rows = await self._fetch(
                "SELECT run_id FROM runs WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at, run_id",
                (json.dumps(statuses),),
            )
        return [row["run_id"] for row in rows]

    async def cancel(self, run_id: str, action: str) -> dict[str, Any] | None:
        async def work() -> dict[str, Any] | None:
            now = self._now()
            rows = await self._fetch(
                "UPDATE runs SET status = CASE WHEN status = 'pending' THEN 'interrupted' ELSE status END, "
                "ended_at = CASE WHEN status = 'pending' THEN ? ELSE ended_at END, "
                "cancel_requested = CASE WHEN status = 'running' THEN ? ELSE cancel_requested END, updated_at = ? "
                "WHERE run_id = ? RETURNING *",
                (now, action, now, run_id),
            )
            if rows and rows[0]["status"] == "interrupted" and rows[0]["worker_id"] is None:
                await self.conn.execute(
                    "UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = ? "
                    "AND r.status IN ('pending', 'running')) THEN 'busy' WHEN interrupts <> '{}' THEN 'interrupted' "
                    "ELSE 'idle' END, updated_at = ? WHERE thread_id = ?",
                    (rows[0]["thread_id"], now, rows[0]["thread_id"]),
                )
            return rows[0] if rows else None

        return await self._transaction(work)

    async def delete(self, run_id: str) -> bool:
        async def work() -> bool:
            rows = await self._fetch(
                "DELETE FROM runs WHERE run_id = ? AND status NOT IN ('pending', 'running') RETURNING run_id",
                (run_id,),
            )
            await self.conn.execute("DELETE FROM run_events WHERE run_id = ?", (run_id,))
            return bool(rows)

        return await self._transaction(work)

    async def add_events(self, run_id: str, first_seq: int, events: list[tuple[str, str]]) -> None:
        async def work() -> None:
            await self.conn.executemany(
                "INSERT INTO run_events (run_id, seq, event, data) VALUES (?, ?, ?, ?)",
                [(run_id, first_seq + i, event, data) for i, (event, data) in enumerate(events)],
            )

        await self._transaction(work)

    async def events_after(self, run_id: str, seq: int) -> list[tuple[int, str, str]]:
        async with self.lock:
            rows = await self._fetch(
                "SELECT seq, event, data FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT 1000",
                (run_id, seq),
            )
        return [(row["seq"], row["event"], row["data"]) for row in rows]

    async def pending_count(self) -> int:
        async with self.lock:
            rows = await self._fetch("SELECT count(*) AS n FROM runs WHERE status = 'pending'")
        return rows[0]["n"]
