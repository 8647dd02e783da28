"""The process's database: one pooled Postgres connection set (or embedded SQLite) and the checkpointer on it.

`open_database` is entered once per process (app lifespan, migrate command). Requests only borrow
connections from the pool; nothing here runs per request.
"""

from __future__ import annotations

import array
import logging
import math
import select
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.postgres.base import WRITES_IDX_MAP
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.base import BaseStore, GetOp, IndexConfig, Op, Result, SearchOp, TTLConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.sqlite.aio import AsyncSqliteStore
from psycopg import AsyncConnection
from psycopg.pq import ConnStatus, TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from ..migrate import postgres_schema_problem
from .jsonio import load_json
from .settings import Settings

log = logging.getLogger(__name__)

READY_CHECK_TIMEOUT_SECONDS = 2.0
APPLICATION_NAME = "langgraph-server"
# Longest wait between two attempts to reconnect to an unreachable database, whatever the outage's length.
RECONNECT_MAX_DELAY_SECONDS = 1.0

WriteObserver = Callable[[float], None]

# The long-term memory store's TTL behaviour, as the official server's: an item put with `ttl` (minutes)
# expires that long after its last write or read; expired items are never returned, and the retention
# job (`app.prune`) deletes them.
STORE_TTL: TTLConfig = {"refresh_on_read": True, "omit_expired": True}


def _discard(seconds: float) -> None:
    """The default `WriteObserver`: nothing records the write latency (the benchmark's in-process ceiling)."""


class _TimedWrites:
    """Reports the seconds each `aput` and `aput_writes` (the checkpoint writes) took to `observe_write`.

    Two clock reads and one call per write; no context-manager object per write (a run makes several).
    """

    observe_write: WriteObserver = staticmethod(_discard)

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await super().aput(*args, **kwargs)  # type: ignore[misc]
        finally:
            self.observe_write(time.perf_counter() - start)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await super().aput_writes(*args, **kwargs)  # type: ignore[misc]
        finally:
            self.observe_write(time.perf_counter() - start)


@dataclass
class NewThread:
    """The thread of the current run, which the run's own submit created: it has no checkpoint to read yet."""

    thread_id: str
    read: bool = False  # the run's first read of the thread's latest checkpoint was answered without the database


NEW_THREAD: ContextVar[NewThread | None] = ContextVar("new_thread", default=None)
"""Set by the engine (`Engine.execute`) around a run whose submit created its thread; one object per run."""


class _SkipsNewThreadRead:
    """Answers the run's first read of its new thread's latest root checkpoint (`NEW_THREAD`) with None, without
    a round trip: the thread was created by the run's own submit, so the database could find nothing. Later reads,
    reads of a namespace (subgraphs) or of a given checkpoint, and reads outside such a run go to the database."""

    async def aget_tuple(self, config: Any) -> Any:
        new = NEW_THREAD.get()
        if new is not None and not new.read:
            configurable = config.get("configurable") or {}
            if (
                configurable.get("thread_id") == new.thread_id
                and not configurable.get("checkpoint_ns")
                and not configurable.get("checkpoint_id")
            ):
                new.read = True
                return None
        return await super().aget_tuple(config)  # type: ignore[misc]


class _NoLock:
    """An async context manager that does not lock (stands in for `asyncio.Lock`)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class InlineWritesPostgresSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` whose `aput` and `aput_writes` serialize in the event loop's thread.

    The library hands every `aput_writes` (one per task per step) and every `aput` with blobs (one per step) to a
    worker thread (`asyncio.to_thread`) to serialize a few hundred bytes: a thread-pool submit, a wake-up of a
    worker and one of the event loop per call, for work that holds the GIL anyway. Otherwise the same statements
    as the library.
    """

    async def aput(
        self, config: Any, checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> Any:
        configurable = config["configurable"]
        thread_id, checkpoint_ns = configurable["thread_id"], configurable["checkpoint_ns"]
        copy = checkpoint.copy()
        copy["channel_values"] = channel_values = copy["channel_values"].copy()
        next_config = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint["id"]}
        }
        # primitive values are inlined in the checkpoint row, others stored as blobs (as the library does)
        blob_values = {}
        for key, value in checkpoint["channel_values"].items():
            if isinstance(value, _DeltaSnapshot):
                blob_values[key] = channel_values.pop(key)
                channel_values[key] = True
            elif not (value is None or isinstance(value, str | int | float | bool)):
                blob_values[key] = channel_values.pop(key)
        blob_versions = {key: version for key, version in new_versions.items() if key in blob_values}
        blobs = self._dump_blobs(thread_id, checkpoint_ns, blob_values, blob_versions) if blob_versions else None
        async with self._cursor(pipeline=True) as cur:
            if blobs:
                await cur.executemany(self.UPSERT_CHECKPOINT_BLOBS_SQL, blobs)
            await cur.execute(
                self.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id, checkpoint_ns, checkpoint["id"], configurable.get("checkpoint_id"), Jsonb(copy),
                    Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                ),
            )  # fmt: skip
        return next_config

    async def aput_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        configurable = config["configurable"]
        params = self._dump_writes(
            configurable["thread_id"], configurable["checkpoint_ns"], configurable["checkpoint_id"], task_id,
            task_path, writes,
        )  # fmt: skip
        async with self._cursor(pipeline=True) as cur:
            await cur.executemany(query, params)


class TimedPostgresSaver(_SkipsNewThreadRead, _TimedWrites, InlineWritesPostgresSaver):
    """`AsyncPostgresSaver` whose writes are timed, whose database calls run concurrently on a pool, and which
    does not read a run's new thread (`_SkipsNewThreadRead`).

    The library holds one `asyncio.Lock` per saver around every database call (`_cursor`, its only use of
    `self.lock`), which a single shared connection needs. On a pool each call borrows its own connection (and a
    pool saver cannot have a pipeline), so the lock only serialised the process's checkpoint I/O and queued
    every request behind one pool timeout after another while the database was down. With a pool it is a no-op.
    """

    def __init__(self, conn: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(conn, *args, **kwargs)
        if isinstance(conn, AsyncConnectionPool):
            self.lock = _NoLock()  # type: ignore[assignment]


class TimedSqliteSaver(_SkipsNewThreadRead, _TimedWrites, AsyncSqliteSaver):
    """`AsyncSqliteSaver` whose writes are timed, and which does not read a run's new thread."""


def _cosine_distance(left: bytes, right: bytes) -> float:
    """sqlite-vec's `vec_distance_cosine` of two float32 vectors; 1.0 (unrelated) when one of them is zero."""
    a, b = array.array("f", left), array.array("f", right)
    norms = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return 1.0 - sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 1.0


class SweepingSqliteStore(AsyncSqliteStore):
    """`AsyncSqliteStore` that never returns an expired item: the library's SQLite store ignores `omit_expired`,
    so expired items are deleted before each read (one indexed DELETE on the embedded file).

    With an index, the cosine distance its semantic search calls is a Python function registered on the
    connection rather than the sqlite-vec extension, which many Python builds cannot load (pyenv's default has
    no `enable_load_extension`). Call `setup()` before serving.
    """

    async def setup(self) -> None:
        index, self.index_config = self.index_config, None  # the library's setup would load the extension
        try:
            await super().setup()
        finally:
            self.index_config = index
        if index:
            await self._setup_vectors()

    async def _setup_vectors(self) -> None:
        async with self.lock:
            await self.conn.create_function("vec_distance_cosine", 2, _cosine_distance, deterministic=True)
            await self.conn.execute("CREATE TABLE IF NOT EXISTS vector_migrations (v INTEGER PRIMARY KEY)")
            async with self.conn.execute("SELECT coalesce(max(v), -1) FROM vector_migrations") as cursor:
                (version,) = await cursor.fetchone()  # type: ignore[misc]
            for v, sql in enumerate(self.VECTOR_MIGRATIONS[version + 1 :], start=version + 1):
                await self.conn.executescript(sql)
                await self.conn.execute("INSERT INTO vector_migrations (v) VALUES (?)", (v,))
            await self.conn.commit()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if any(isinstance(op, GetOp | SearchOp) for op in ops):
            await self.sweep_ttl()
        return await super().abatch(ops)


class _CappedBackoff(AttemptWithBackoff):
    """psycopg_pool's reconnect backoff, doubling from 1 s but never above `RECONNECT_MAX_DELAY_SECONDS`."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY_SECONDS)


class CheckpointPool(AsyncConnectionPool):
    """A pool that keeps trying to reconnect while the database is down, at least once a second.

    psycopg_pool doubles the wait after each failed attempt (so after a 90 s outage the next try could come a
    minute after the database is back) and gives up on a connection after `reconnect_timeout`, leaving the pool
    to refill only when requests ask for connections. Here the wait is capped and the pool never gives up, so
    it refills on its own within about a second of PostgreSQL returning, with or without traffic.
    """

    async def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        await super()._add_connection(attempt or _CappedBackoff(timeout=self.reconnect_timeout), growing)


class Database:
    """The checkpointer, the long-term memory store, and what sits under them; `kind` is "postgres" or "sqlite"."""

    kind: str
    saver: BaseCheckpointSaver
    store: BaseStore
    index: IndexConfig | None = None  # the store's semantic-search index (langgraph.json `store.index`)
    pool: AsyncConnectionPool | None = None
    sqlite: aiosqlite.Connection | None = None

    async def schema_problem(self, check_schema: bool) -> str | None:
        """Raise if the database cannot answer a query; with `check_schema`, describe what is missing from it."""
        raise NotImplementedError


class PostgresDatabase(Database):
    kind = "postgres"

    def __init__(self, pool: AsyncConnectionPool, saver: AsyncPostgresSaver, index: IndexConfig | None) -> None:
        self.pool = pool
        self.saver = saver
        self.index = index
        self.store = AsyncPostgresStore(pool, ttl=STORE_TTL, index=index)  # type: ignore[arg-type]

    async def schema_problem(self, check_schema: bool) -> str | None:
        assert self.pool is not None
        async with self.pool.connection(timeout=READY_CHECK_TIMEOUT_SECONDS) as conn:
            if check_schema:
                return await postgres_schema_problem(conn, index=self.index)
            await conn.execute("SELECT 1")
            return None


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, saver: AsyncSqliteSaver, index: IndexConfig | None) -> None:
        self.sqlite = conn
        self.saver = saver
        self.index = index
        if index:  # the library's SQLite store reads the fields to embed from `text_fields`, not `fields`
            index = {**index, "text_fields": index.get("fields")}  # type: ignore[typeddict-unknown-key]
        store = SweepingSqliteStore(conn, ttl=STORE_TTL, index=index)  # type: ignore[arg-type]
        store.lock = saver.lock  # one connection: the store's statements never interleave with the saver's
        self.store = store

    async def schema_problem(self, check_schema: bool) -> str | None:
        """The SQLite schema is migrated at every startup, so only reachability is checked."""
        assert self.sqlite is not None
        async with self.sqlite.execute("SELECT 1") as cursor:
            await cursor.fetchone()
        return None


def _socket_quiet(conn: AsyncConnection) -> bool:
    """True if the idle connection's socket has nothing to read: PostgreSQL sent no error, notice or EOF since
    the connection's last statement (an idle session never gets unsolicited data but for those)."""
    pgconn = conn.pgconn
    if pgconn.status != ConnStatus.OK or pgconn.transaction_status != TransactionStatus.IDLE:
        return False
    try:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no poll() on this platform: the round trip decides
        return False


async def check_connection(conn: AsyncConnection) -> None:
    """The pool's check on checkout (`DB_POOL_CHECK_CONNECTIONS`): raise if the connection is broken.

    A connection whose backend ended (database restart or shutdown, `pg_terminate_backend`, idle timeouts) or
    whose TCP connection was closed has something to read on its socket: the server's FATAL message, or EOF.
    Only then, or if libpq already knows the connection is bad, is psycopg's round-trip check (an empty query)
    run, which raises for a dead connection; a quiet socket is lent at once, with no round trip. A peer that
    vanished without a word (no FIN, no RST) is not detected by either check before the query's own timeout.
    """
    if _socket_quiet(conn):
        return
    await AsyncConnectionPool.check_connection(conn)


async def _configure_connection(conn: AsyncConnection) -> None:
    set_json_loads(load_json, conn)


def create_pool(settings: Settings) -> AsyncConnectionPool:
    """An unopened pool configured from settings, with the connection options `AsyncPostgresSaver` needs."""
    assert settings.database_url is not None
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "application_name": APPLICATION_NAME}
    if not settings.prepared_statements:
        kwargs["prepare_threshold"] = None  # PgBouncer in transaction mode cannot keep prepared statements
    return CheckpointPool(
        settings.database_url.get_secret_value(),
        kwargs=kwargs,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_seconds,
        check=check_connection if settings.pool_check_connections else None,
        configure=_configure_connection,
        name="checkpointer",
        reconnect_timeout=math.inf,
        open=False,
    )


@asynccontextmanager
async def open_database(
    settings: Settings, observe_write: WriteObserver = _discard, index: IndexConfig | None = None
) -> AsyncIterator[Database]:
    """Open the pool (Postgres) or the embedded file (SQLite) and yield the database; close it on exit.

    `observe_write(seconds)` is told how long each checkpoint write took (the server's write-latency histogram);
    `index` makes the store's semantic search possible.

    The Postgres pool opens without waiting for connections, so the process starts while the database is
    down and readiness reports it. Schema setup is not done here; see `app.migrate`.
    """
    if settings.uses_postgres:
        pool = create_pool(settings)
        await pool.open(wait=False)
        try:
            saver = TimedPostgresSaver(pool)
            saver.observe_write = observe_write
            yield PostgresDatabase(pool, saver, index)
        finally:
            await pool.close()
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("no DATABASE_URL: using embedded SQLite", extra={"path": str(settings.sqlite_path)})
        async with aiosqlite.connect(settings.sqlite_path) as conn:
            saver = TimedSqliteSaver(conn)
            saver.observe_write = observe_write
            yield SqliteDatabase(conn, saver, index)
