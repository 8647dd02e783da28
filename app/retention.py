"""Checkpoint retention: find and delete whole threads that have been idle too long.

Works on the schema of `langgraph-checkpoint-postgres` (tables `checkpoints`,
`checkpoint_blobs`, `checkpoint_writes`) and on the server's own `threads` table
when it exists. PostgreSQL only: the embedded SQLite store is for development
and is never pruned (its store drops expired items itself). A prune also deletes the long-term memory
store's items whose TTL has passed.

The checkpoint tables have no timestamp column. A thread's last activity is the
newest `ts` (inside the `checkpoint` JSONB) among the latest checkpoints of its
namespaces; the latest checkpoint of a namespace is the one with the greatest
`checkpoint_id` (they are time-ordered UUIDv6, which is also how the saver finds
it). A thread waits on a human when the latest checkpoint of its root namespace
has a pending `__interrupt__` write: `interrupt()` leaves one there, also when it
is raised inside a subgraph, and resuming moves the thread on to a new checkpoint.
Static breakpoints (`interrupt_before`/`interrupt_after`) leave no such write
and count as not interrupted.

Cost: a prune pages through thread ids with a loose index scan (one primary-key
descent per thread), then, per page, reads the page's index entries, looks up
`ts` in each namespace's head by primary key and probes `checkpoint_writes` by
its primary key; it never reads `checkpoint_blobs`. The whole run is linear in
the number of checkpoints (about 0.5 s for 100k checkpoints in 20k threads on a
laptop-class machine), and each delete transaction touches one page. The
indexes it uses are the ones `AsyncPostgresSaver.setup()` creates. What would
make finding expired threads an index range scan instead of a walk over all of
them is a per-thread last-activity column with an index (for example an
indexed `updated_at` on the server's `threads` table); an index on
`checkpoint ->> 'ts'` would not, because expiry depends on each thread's newest
checkpoint, not on its older ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import INTERRUPT
from psycopg import AsyncConnection, sql
from psycopg.rows import tuple_row

THREADS_TABLE = "threads"
CHECKPOINTS_TABLE = "checkpoints"
STORE_TABLE = "store"  # langgraph's long-term memory store (`AsyncPostgresStore`); its TTL-expired items go too
RUNS_TABLE = "runs"  # the run engine's runs (app/server/engine/schema.py); a deleted thread's runs go with it
CRONS_TABLE = "crons"  # the LangGraph Server API's crons (migration 5); a deleted thread's crons go with it
RUN_EVENTS_TABLE = "run_events"  # their stream events; a finished run's go once it ended before the cutoff
ACTIVE_RUN_STATUSES = ("pending", "running")  # app/server/engine/schema.py ACTIVE_STATUSES

# How long one delete transaction waits for a row lock a running graph holds
# before it gives up; the next scheduled prune tries again.
DELETE_LOCK_TIMEOUT = "5s"

# The next `limit` thread ids below `{below}`, in descending order: a loose index
# scan of the primary key, one descent per thread however many checkpoints it has.
_PAGE_SQL = """
WITH RECURSIVE walk(thread_id, n) AS (
    (SELECT thread_id, 1 FROM checkpoints WHERE {below} ORDER BY thread_id DESC LIMIT 1)
    UNION ALL
    SELECT (
        SELECT c.thread_id FROM checkpoints c WHERE c.thread_id < walk.thread_id ORDER BY c.thread_id DESC LIMIT 1
    ), n + 1
    FROM walk WHERE n < %(limit)s AND thread_id IS NOT NULL
)
SELECT thread_id FROM walk WHERE thread_id IS NOT NULL ORDER BY thread_id DESC
"""

# Per thread matching `{scope}`: its last activity and whether it waits on a
# human, from the latest checkpoint (greatest checkpoint_id) of each namespace.
_ACTIVITY_SQL = """
WITH heads AS (
    SELECT DISTINCT ON (thread_id, checkpoint_ns) thread_id, checkpoint_ns, checkpoint_id
    FROM checkpoints
    WHERE {scope}
    ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC
)
SELECT
    h.thread_id,
    max(c.ts) AS last_activity,
    bool_or(h.checkpoint_ns = '' AND EXISTS (
        SELECT 1 FROM checkpoint_writes w
        WHERE w.thread_id = h.thread_id
        AND w.checkpoint_ns = h.checkpoint_ns
        AND w.checkpoint_id = h.checkpoint_id
        AND w.channel = {interrupt}
    )) AS interrupted
FROM heads h
CROSS JOIN LATERAL (
    -- A primary key lookup per head (the LIMIT keeps the planner from turning it into a join over the table).
    SELECT (checkpoint ->> 'ts')::timestamptz AS ts FROM checkpoints
    WHERE thread_id = h.thread_id AND checkpoint_ns = h.checkpoint_ns AND checkpoint_id = h.checkpoint_id
    LIMIT 1
) AS c
GROUP BY h.thread_id
"""

_GIVEN_THREADS = "thread_id = ANY(%(ids)s)"
_ALL_THREADS = "TRUE"

_EXPIRED_SQL = """
SELECT thread_id, last_activity, interrupted FROM ({activity}) AS activity
WHERE last_activity < CASE WHEN interrupted THEN %(interrupted_cutoff)s ELSE %(cutoff)s END
ORDER BY thread_id DESC
"""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long an idle thread is kept: `days`, or `interrupted_days` while it waits on a human."""

    days: int
    interrupted_days: int

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.interrupted_days < self.days:
            raise ValueError(
                f"interrupted days ({self.interrupted_days}) must be at least days ({self.days}): "
                "threads waiting on a human are kept at least as long as finished ones"
            )

    def cutoffs(self, now: datetime) -> tuple[datetime, datetime]:
        """Last-activity times before which a thread expires: (finished, interrupted)."""
        return now - timedelta(days=self.days), now - timedelta(days=self.interrupted_days)


@dataclass(frozen=True)
class ThreadActivity:
    thread_id: str
    last_activity: datetime
    interrupted: bool


def _activity_query(scope: str) -> sql.Composed:
    """The activity of the threads matching `scope` (one of this module's constants)."""
    return sql.SQL(_ACTIVITY_SQL).format(scope=sql.SQL(scope), interrupt=sql.Literal(INTERRUPT))


async def _fetch(conn: AsyncConnection, query: sql.Composable, params: dict) -> list[tuple]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def thread_page(conn: AsyncConnection, *, limit: int, before: str | None = None) -> list[str]:
    """The next `limit` thread ids below `before` (from the top when None), in descending order."""
    below = "TRUE" if before is None else "thread_id < %(before)s"
    query = sql.SQL(_PAGE_SQL).format(below=sql.SQL(below))
    return [row[0] for row in await _fetch(conn, query, {"limit": limit, "before": before})]


async def thread_activity(conn: AsyncConnection, thread_ids: Sequence[str]) -> dict[str, ThreadActivity]:
    """Last activity and interrupted state of the given threads; ids without checkpoints are absent."""
    rows = await _fetch(conn, _activity_query(_GIVEN_THREADS), {"ids": list(thread_ids)})
    return {row[0]: ThreadActivity(*row) for row in rows}


async def expired_threads(
    conn: AsyncConnection, policy: RetentionPolicy, thread_ids: Sequence[str], *, now: datetime
) -> list[ThreadActivity]:
    """Those of the given threads that the policy expires at `now`, in descending thread_id order."""
    cutoff, interrupted_cutoff = policy.cutoffs(now)
    query = sql.SQL(_EXPIRED_SQL).format(activity=_activity_query(_GIVEN_THREADS))
    params = {"ids": list(thread_ids), "cutoff": cutoff, "interrupted_cutoff": interrupted_cutoff}
    return [ThreadActivity(*row) for row in await _fetch(conn, query, params)]


async def _threads_table_id_type(conn: AsyncConnection) -> str | None:
    """The SQL type of `threads.thread_id` in the connection's search path, or None without that table."""
    rows = await _fetch(
        conn,
        sql.SQL(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%(table)s) AND a.attname = 'thread_id' AND NOT a.attisdropped"
        ),
        {"table": THREADS_TABLE},
    )
    return rows[0][0] if rows else None


def _as_uuids(thread_ids: Sequence[str]) -> list[uuid.UUID]:
    """The ids that are UUIDs; others cannot be rows of a uuid-keyed table."""
    found = []
    for thread_id in thread_ids:
        try:
            found.append(uuid.UUID(thread_id))
        except ValueError:
            continue
    return found


async def delete_threads(
    conn: AsyncConnection, thread_ids: Sequence[str], policy: RetentionPolicy, *, now: datetime
) -> list[ThreadActivity]:
    """Delete those of `thread_ids` that are still expired, whole, in one short transaction.

    Expiry is checked again inside the transaction, so a thread that a run moved
    on since it was listed is kept. Deletes the thread's checkpoints, blobs and
    writes (through the saver's own `aprune(strategy="delete")`, nested as a
    savepoint), its row in the `threads` table if that table exists, and its
    runs and their events if the run engine's tables exist. A thread with a
    pending or running run is kept, however old its last checkpoint.
    Returns the threads deleted.
    """
    async with conn.transaction():
        await conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(DELETE_LOCK_TIMEOUT)))
        expired = await expired_threads(conn, policy, thread_ids, now=now)
        if not expired:
            return []
        id_type = await _threads_table_id_type(conn)
        has_runs = await _table_exists(conn, RUNS_TABLE)
        if has_runs:
            active = await _threads_with_active_runs(conn, [a.thread_id for a in expired])
            expired = [a for a in expired if a.thread_id not in active]
            if not expired:
                return []
        if not await _delete_whole(conn, [a.thread_id for a in expired], id_type, has_runs):
            return []  # the next prune tries these threads again
    return expired


async def _delete_whole(conn: AsyncConnection, ids: list[str], id_type: str | None, has_runs: bool) -> bool:
    """Delete the threads' rows, checkpoints, crons, runs and run events in a savepoint; False (nothing deleted)
    if a run was queued on one of them meanwhile."""
    try:
        async with conn.transaction():  # a savepoint: a run queued meanwhile undoes the batch, not the prune
            # The rows first, as the server's `DELETE /threads/{id}` takes them: a delete of the same thread waits
            # for the other instead of each holding what the other needs next.
            if id_type is not None:
                keys = _as_uuids(ids) if id_type == "uuid" else ids
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE thread_id = ANY(%s)").format(sql.Identifier(THREADS_TABLE)), (keys,)
                )
            await AsyncPostgresSaver(conn).aprune(ids, strategy="delete")
            if await _table_exists(conn, CRONS_TABLE):
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE thread_id = ANY(%s)").format(sql.Identifier(CRONS_TABLE)), (ids,)
                )
            if has_runs:
                # Submitting a run locks its thread's row, which the delete above now holds: a run queued before
                # it is visible here, and none can be queued on these threads until this commits.
                if await _threads_with_active_runs(conn, ids):
                    raise _RunQueuedMeanwhile
                await conn.execute(
                    sql.SQL(
                        "DELETE FROM {events} WHERE run_id IN (SELECT run_id FROM {runs} WHERE thread_id = ANY(%s))"
                    ).format(events=sql.Identifier(RUN_EVENTS_TABLE), runs=sql.Identifier(RUNS_TABLE)),
                    (ids,),
                )
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE thread_id = ANY(%s)").format(sql.Identifier(RUNS_TABLE)), (ids,)
                )
    except _RunQueuedMeanwhile:
        return False
    return True


async def sweep_temporary_threads(conn: AsyncConnection, *, dry_run: bool = False) -> list[str]:
    """Delete the threads whose runs are all temporary and ended (a dry run lists them); [] without the run tables.

    A temporary run (stateless, or a stateless cron's with `on_run_completed="delete"`) deletes its thread when it
    completes; one that ended otherwise (its worker was lost and the lease expired) leaves the thread to this sweep.
    """
    if not await _table_exists(conn, RUNS_TABLE):
        return []
    query = sql.SQL(
        "SELECT thread_id FROM {} GROUP BY thread_id "
        "HAVING bool_and(temporary) AND bool_and(status <> ALL(%(active)s)) ORDER BY thread_id"
    ).format(sql.Identifier(RUNS_TABLE))
    ids = [row[0] for row in await _fetch(conn, query, {"active": list(ACTIVE_RUN_STATUSES)})]
    if dry_run or not ids:
        return ids
    async with conn.transaction():
        await conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(DELETE_LOCK_TIMEOUT)))
        deleted = await _delete_whole(conn, ids, await _threads_table_id_type(conn), True)
    return ids if deleted else []


class _RunQueuedMeanwhile(Exception):
    """A run was queued on a thread of the batch between the check and the delete."""


async def _table_exists(conn: AsyncConnection, table: str) -> bool:
    return bool((await _fetch(conn, sql.SQL("SELECT to_regclass(%(table)s) IS NOT NULL"), {"table": table}))[0][0])


async def _threads_with_active_runs(conn: AsyncConnection, thread_ids: Sequence[str]) -> set[str]:
    rows = await _fetch(
        conn,
        sql.SQL("SELECT DISTINCT thread_id FROM {} WHERE thread_id = ANY(%(ids)s) AND status = ANY(%(active)s)").format(
            sql.Identifier(RUNS_TABLE)
        ),
        {"ids": list(thread_ids), "active": list(ACTIVE_RUN_STATUSES)},
    )
    return {row[0] for row in rows}


@dataclass
class PruneResult:
    """What one prune deleted (or, in a dry run, would delete)."""

    dry_run: bool
    cutoff: datetime
    interrupted_cutoff: datetime
    threads: list[ThreadActivity] = field(default_factory=list)
    batches: int = 0
    expired_store_items: int = 0  # long-term memory items past their TTL, deleted (or, in a dry run, found)
    expired_run_events: int = 0  # events of kept threads' runs that ended before the cutoff, deleted (or found)
    temporary_threads: list[str] = field(default_factory=list)  # threads of ended temporary runs, deleted (or found)


async def prune(
    conn: AsyncConnection,
    policy: RetentionPolicy,
    *,
    batch_size: int,
    dry_run: bool = False,
    now: datetime | None = None,
    on_batch: Callable[[list[ThreadActivity]], None] | None = None,
) -> PruneResult:
    """Delete every expired thread, one transaction per page of `batch_size` threads; a dry run only lists them.

    `conn` should be in autocommit mode so that each batch commits on its own.
    `on_batch` is called with each non-empty batch after it is committed (or listed).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    now = now or datetime.now(UTC)
    result = PruneResult(dry_run, *policy.cutoffs(now))
    before = None
    while page := await thread_page(conn, limit=batch_size, before=before):
        before = page[-1]
        if dry_run:
            listed = await expired_threads(conn, policy, page, now=now)
        else:
            listed = await delete_threads(conn, page, policy, now=now)
        if listed:
            result.threads += listed
            result.batches += 1
            if on_batch is not None:
                on_batch(listed)
    result.expired_store_items = await sweep_store(conn, dry_run=dry_run)
    result.expired_run_events = await sweep_run_events(conn, result.cutoff, dry_run=dry_run)
    result.temporary_threads = await sweep_temporary_threads(conn, dry_run=dry_run)
    return result


async def sweep_run_events(conn: AsyncConnection, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete the stream events of runs that finished before `cutoff` (a dry run counts them); 0 without the tables.

    The run rows stay (their status and error are the thread's history) until their thread is deleted.
    """
    if not await _table_exists(conn, RUNS_TABLE):
        return 0
    finished = sql.SQL(
        "run_id IN (SELECT run_id FROM {runs} WHERE status <> ALL(%(active)s) AND ended_at < %(cutoff)s)"
    ).format(runs=sql.Identifier(RUNS_TABLE))
    params = {"active": list(ACTIVE_RUN_STATUSES), "cutoff": cutoff}
    events = sql.Identifier(RUN_EVENTS_TABLE)
    if dry_run:
        rows = await _fetch(conn, sql.SQL("SELECT count(*) FROM {} WHERE {}").format(events, finished), params)
        return int(rows[0][0])
    cursor = await conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(events, finished), params)
    return cursor.rowcount


async def sweep_store(conn: AsyncConnection, *, dry_run: bool = False) -> int:
    """Delete the store items whose TTL has passed (a dry run counts them); 0 when there is no store table."""
    if not (await _fetch(conn, sql.SQL("SELECT to_regclass(%(table)s) IS NOT NULL"), {"table": STORE_TABLE}))[0][0]:
        return 0
    expired = sql.SQL("expires_at IS NOT NULL AND expires_at < now()")
    if dry_run:
        rows = await _fetch(conn, sql.SQL("SELECT count(*) FROM store WHERE {}").format(expired), {})
        return int(rows[0][0])
    cursor = await conn.execute(sql.SQL("DELETE FROM store WHERE {}").format(expired))
    return cursor.rowcount


async def checkpoint_tables_exist(conn: AsyncConnection) -> bool:
    rows = await _fetch(conn, sql.SQL("SELECT to_regclass(%(table)s) IS NOT NULL"), {"table": CHECKPOINTS_TABLE})
    return bool(rows[0][0])


async def database_size_bytes(conn: AsyncConnection) -> int:
    """Size on disk of the connection's database (for `Metrics.CHECKPOINT_DB_SIZE`)."""
    rows = await _fetch(conn, sql.SQL("SELECT pg_database_size(current_database())"), {})
    return int(rows[0][0])


async def oldest_thread_age_seconds(conn: AsyncConnection, *, now: datetime | None = None) -> float:
    """Seconds since the last activity of the thread idle longest; 0.0 when there are no threads.

    For `Metrics.OLDEST_THREAD_AGE`. It reads every thread's heads, so refresh the
    gauge on an interval (minutes), not on every scrape.
    """
    query = sql.SQL("SELECT min(last_activity) FROM ({activity}) AS activity").format(
        activity=_activity_query(_ALL_THREADS)
    )
    oldest = (await _fetch(conn, query, {}))[0][0]
    if oldest is None:
        return 0.0
    return max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds())


STATS_TABLE = "app_database_stats"
"""One row of database-wide stats, computed by whichever replica claims it first in an interval (the schemas
below create it under this name)."""
STATS_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_database_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    computed_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    database_size_bytes BIGINT,
    oldest_activity_at TIMESTAMPTZ
);
INSERT INTO app_database_stats (id) VALUES (1) ON CONFLICT DO NOTHING
"""
STATS_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_database_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    computed_at TEXT,
    database_size_bytes INTEGER,
    oldest_activity_at TEXT
);
INSERT OR IGNORE INTO app_database_stats (id) VALUES (1)
"""

# Claim the row only if no one computed it within the interval; a replica computing right now holds the row lock,
# so the others skip it at once instead of waiting.
_CLAIM_STATS = sql.SQL(
    "UPDATE {table} SET computed_at = now() WHERE id = ("
    " SELECT id FROM {table} WHERE id = 1 AND computed_at <= now() - make_interval(secs => %(interval)s)"
    " FOR UPDATE SKIP LOCKED) RETURNING id"
).format(table=sql.Identifier(STATS_TABLE))


@dataclass(frozen=True)
class DatabaseStats:
    """The database-wide gauges' values as last computed."""

    database_size_bytes: int
    oldest_activity_at: datetime | None

    def oldest_thread_age_seconds(self, *, now: datetime | None = None) -> float:
        """Seconds since the oldest thread's last activity (growing between computations); 0.0 without threads."""
        if self.oldest_activity_at is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.oldest_activity_at).total_seconds())


async def refresh_database_stats(conn: AsyncConnection, *, interval_seconds: float) -> bool:
    """Compute the database size and the oldest thread's activity if no replica did in the last `interval_seconds`.

    Returns whether this call computed them. The oldest-thread query reads every thread's heads, so with many
    replicas this keeps it to one run per interval for the whole database.
    """
    async with conn.transaction():
        if not await _fetch(conn, _CLAIM_STATS, {"interval": interval_seconds}):
            return False
        oldest_query = sql.SQL("SELECT min(last_activity) FROM ({activity}) AS activity").format(
            activity=_activity_query(_ALL_THREADS)
        )
        oldest = (await _fetch(conn, oldest_query, {}))[0][0]
        await conn.execute(
            sql.SQL(
                "UPDATE {} SET database_size_bytes = %s, oldest_activity_at = %s, computed_at = now() WHERE id = 1"
            ).format(sql.Identifier(STATS_TABLE)),
            (await database_size_bytes(conn), oldest),
        )
    return True


async def read_database_stats(conn: AsyncConnection) -> DatabaseStats | None:
    """The stats as last computed by any replica; None before the first computation."""
    rows = await _fetch(
        conn,
        sql.SQL("SELECT database_size_bytes, oldest_activity_at FROM {} WHERE id = 1").format(
            sql.Identifier(STATS_TABLE)
        ),
        {},
    )
    if not rows or rows[0][0] is None:
        return None
    return DatabaseStats(database_size_bytes=int(rows[0][0]), oldest_activity_at=rows[0][1])
