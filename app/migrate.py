"""Schema migration: `python -m app.migrate` (the migration Job's command).

Runs the checkpointer's and the long-term memory store's own `setup()` and then the project's versioned
migrations, in order, each once. With a store index (langgraph.json `store.index`), the store's vector tables
too: on Postgres they need the pgvector extension, created here if the migrating role may (pgvector is not a
trusted extension: creating it is a superuser's right, or a managed service's admin role's); SQLite's are set up
by the server (`SweepingSqliteStore`).
On Postgres a session advisory lock serialises concurrent migrators (the Job and `MIGRATE_ON_STARTUP`
replicas). To change the schema, append a `Migration` to `MIGRATIONS` with the next version and SQL for
both backends; never edit or reorder one that has shipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import aiosqlite
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.base import IndexConfig
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.sqlite.aio import AsyncSqliteStore
from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row

from . import retention
from .roles import ensure_roles, role_passwords
from .server.engine import schema as engine_schema
from .server.logs import configure_logging
from .server.platform_api import schema as platform_schema
from .server.registry import load_store_index
from .server.settings import Settings

log = logging.getLogger("app.migrate")

MIGRATIONS_TABLE = "app_schema_migrations"
NO_PGVECTOR = (
    "the store's semantic-search index (langgraph.json store.index) needs PostgreSQL's pgvector extension, which "
    "this database server does not have: run PostgreSQL with it (the pgvector/pgvector:pg17 image, or Debian "
    "trixie's postgresql-17-pgvector package), or remove store.index"
)
NO_VECTOR_RIGHTS = (
    "the store's semantic-search index (langgraph.json store.index) needs the vector extension in database {db}, "
    "and role {role} may not create it (pgvector is not a trusted extension): have a superuser (on a managed "
    "PostgreSQL its admin role, e.g. rds_superuser or azure_pg_admin, with vector allow-listed) run "
    "`CREATE EXTENSION vector;` in that database once, then migrate again"
)
ADVISORY_LOCK_KEY = 0x6C676B38  # "lgk8" — one key for every migrator of this project
LOCK_POLL_SECONDS = 0.2


class SchemaError(Exception):
    """The database cannot hold the schema this configuration needs; the message says what to change."""


@dataclass(frozen=True)
class Migration:
    """One schema change, as SQL for each backend (several statements allowed)."""

    version: int
    name: str
    postgres: str
    sqlite: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]{1,100}", self.name):
            raise ValueError(f"migration {self.version} name {self.name!r} must be lower_snake_case")


# The project's own schema, after the checkpointer's. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "platform_threads", postgres=platform_schema.POSTGRES_SCHEMA, sqlite=platform_schema.SQLITE_SCHEMA),
    Migration(2, "database_stats", postgres=retention.STATS_POSTGRES_SCHEMA, sqlite=retention.STATS_SQLITE_SCHEMA),
    Migration(3, "engine_runs", postgres=engine_schema.POSTGRES_SCHEMA, sqlite=engine_schema.SQLITE_SCHEMA),
    Migration(
        4,
        "platform_assistants",
        postgres=platform_schema.ASSISTANTS_POSTGRES_SCHEMA,
        sqlite=platform_schema.ASSISTANTS_SQLITE_SCHEMA,
    ),
    Migration(
        5, "platform_crons", postgres=platform_schema.CRONS_POSTGRES_SCHEMA, sqlite=platform_schema.CRONS_SQLITE_SCHEMA
    ),
    # SQLite's submit is Python (app.server.engine.store), so only PostgreSQL's function changes (6, 7); 7 also
    # gives every thread with checkpoints but no `threads` row an idle one (both backends).
    Migration(6, "thread_assistant_ids", postgres=engine_schema.SUBMIT_RUN_FUNCTION, sqlite="SELECT 1"),
    Migration(
        7,
        "submit_reports_new_threads",
        postgres=engine_schema.SUBMIT_RUN_FUNCTION + ";" + engine_schema.POSTGRES_THREAD_ROWS,
        sqlite=engine_schema.SQLITE_THREAD_ROWS,
    ),
)

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""

_SCHEMA_VERSIONS = (
    "SELECT (SELECT max(v) FROM checkpoint_migrations) AS checkpoint_version,"  # noqa: S608 - constant names
    " (SELECT max(v) FROM store_migrations) AS store_version,"
    f" (SELECT count(*) FROM {MIGRATIONS_TABLE} WHERE version <= %s) AS app_applied"
)


def _check_order(migrations: tuple[Migration, ...]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3, ... in order; got {versions}")


async def _take_migration_lock(conn: AsyncConnection) -> None:
    """Wait for the session advisory lock by polling: a blocking `pg_advisory_lock` would sit in an open
    transaction that the checkpointer's `CREATE INDEX CONCURRENTLY` (in the lock holder) waits for: a deadlock."""
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (ADVISORY_LOCK_KEY,))
        row = await cursor.fetchone()
        if row["locked"]:
            return
        await asyncio.sleep(LOCK_POLL_SECONDS)


async def _create_vector_extension(conn: AsyncConnection) -> None:
    """`CREATE EXTENSION IF NOT EXISTS vector` (what the store's setup runs first), failing in one line when the
    migrating role lacks the right; a no-op once the extension exists, whoever created it."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except errors.InsufficientPrivilege:
        cursor = await conn.execute("SELECT current_user AS role, current_database() AS db")
        row = await cursor.fetchone()
        raise SchemaError(NO_VECTOR_RIGHTS.format(role=row["role"], db=row["db"])) from None


async def migrate_postgres(
    conn: AsyncConnection, migrations: tuple[Migration, ...] = MIGRATIONS, index: IndexConfig | None = None
) -> list[int]:
    """Bring the database behind `conn` (autocommit, dict rows) up to date, with the vector tables of the store's
    `index` if any; return the versions applied."""
    _check_order(migrations)
    if index:
        cursor = await conn.execute("SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'vector'")
        if not (await cursor.fetchone())["n"]:
            raise SchemaError(NO_PGVECTOR)
    await _take_migration_lock(conn)
    try:
        if index:
            await _create_vector_extension(conn)
        await AsyncPostgresSaver(conn).setup()
        await AsyncPostgresStore(conn, index=index).setup()  # type: ignore[arg-type]
        await conn.execute(_CREATE_TABLE)
        cursor = await conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}")  # noqa: S608 - constant name
        done = {row["version"] for row in await cursor.fetchall()}
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.postgres)
                await conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES (%s, %s)",  # noqa: S608
                    (migration.version, migration.name),
                )
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


async def migrate_sqlite(conn: aiosqlite.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Bring the SQLite file behind `conn` up to date; return the versions applied."""
    _check_order(migrations)
    await AsyncSqliteSaver(conn).setup()
    await AsyncSqliteStore(conn).setup()
    await conn.commit()
    await conn.execute(_CREATE_TABLE)
    async with conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}") as cursor:  # noqa: S608
        done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        await conn.executescript(
            f"BEGIN; {migration.sqlite}; INSERT INTO {MIGRATIONS_TABLE} (version, name) "  # noqa: S608
            f"VALUES ({migration.version}, '{migration.name}'); COMMIT;"
        )
        applied.append(migration.version)
    await conn.commit()
    return applied


async def _vector_version(conn: AsyncConnection) -> int:
    """The last of the store's vector migrations applied, -1 for none."""
    cursor = await conn.execute("SELECT to_regclass('vector_migrations') IS NOT NULL AS has_vectors")
    if not (await cursor.fetchone())["has_vectors"]:
        return -1
    cursor = await conn.execute("SELECT coalesce(max(v), -1) AS version FROM vector_migrations")
    return (await cursor.fetchone())["version"]


async def postgres_schema_problem(
    conn: AsyncConnection, migrations: tuple[Migration, ...] = MIGRATIONS, index: IndexConfig | None = None
) -> str | None:
    """Describe what is missing from the Postgres schema (with the vector tables of the store's `index`, if any),
    or None when it is current."""
    latest = len(AsyncPostgresSaver.MIGRATIONS) - 1
    latest_store = len(AsyncPostgresStore.MIGRATIONS) - 1
    cursor = await conn.execute(
        "SELECT to_regclass('checkpoint_migrations') IS NOT NULL AS has_checkpoints,"
        " to_regclass('store_migrations') IS NOT NULL AS has_store,"
        f" to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL AS has_app"
    )
    row = await cursor.fetchone()
    if not (row["has_checkpoints"] and row["has_store"] and row["has_app"]):
        return "database schema is not set up; run `python -m app.migrate`"
    cursor = await conn.execute(_SCHEMA_VERSIONS, (len(migrations),))
    row = await cursor.fetchone()
    behind = (
        row["checkpoint_version"] is None
        or row["checkpoint_version"] < latest
        or row["store_version"] is None
        or row["store_version"] < latest_store
        or row["app_applied"] < len(migrations)
    )
    if behind:
        return "database schema is behind this server version; run `python -m app.migrate`"
    if index and await _vector_version(conn) < len(AsyncPostgresStore.VECTOR_MIGRATIONS) - 1:
        return "the store's vector tables for store.index are not set up; run `python -m app.migrate`"
    return None


async def migrate(
    settings: Settings, migrations: tuple[Migration, ...] = MIGRATIONS, roles: Mapping[str, str] | None = None
) -> list[int]:
    """Migrate the database the settings point at (Postgres, or the embedded SQLite file).

    On Postgres, `roles` (role to password, see `app.roles`) are then created or updated and granted their privileges.
    """
    if settings.uses_postgres:
        assert settings.database_url is not None
        async with await AsyncConnection.connect(
            settings.database_url.get_secret_value(), autocommit=True, row_factory=dict_row, prepare_threshold=None
        ) as conn:
            applied = await migrate_postgres(conn, migrations, load_store_index(settings.langgraph_config))
            if roles:
                log.info("database roles set", extra={"roles": await ensure_roles(conn, roles)})
            return applied
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(settings.sqlite_path) as conn:
        return await migrate_sqlite(conn, migrations)


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    backend = "postgres" if settings.uses_postgres else f"sqlite at {settings.sqlite_path}"
    try:
        applied = asyncio.run(migrate(settings, roles=role_passwords(os.environ)))
    except SchemaError as error:
        log.error("migration failed: %s", error, extra={"backend": backend})
        return 1
    except Exception:
        log.exception("migration failed", extra={"backend": backend})
        return 1
    log.info("schema is up to date", extra={"backend": backend, "applied_versions": applied})
    return 0


if __name__ == "__main__":
    sys.exit(main())
