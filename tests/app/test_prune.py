"""Checkpoint retention against a real PostgreSQL: which threads `app.prune` deletes and which it keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection, sql

from app import prune as prune_cli
from app import retention
from app.contract import PRUNE_COMMAND, Env
from app.retention import RetentionPolicy
from app.server.engine import schema as engine_schema
from app.server.platform_api import schema as platform_schema
from tests.app.retention_graphs import (
    DRAFT_NODE,
    finish,
    finishing_graph,
    pause,
    pausing_graph,
    resume,
    row_counts,
    set_age,
    thread_config,
    thread_ids_per_table,
)

pytestmark = pytest.mark.anyio

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLICY = RetentionPolicy(days=30, interrupted_days=90)
DAY = timedelta(days=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def saver(postgres_dsn: str) -> AsyncIterator[AsyncPostgresSaver]:
    async with AsyncPostgresSaver.from_conn_string(postgres_dsn) as saver:
        await saver.setup()
        yield saver


@pytest.fixture
async def conn(postgres_dsn: str, saver: AsyncPostgresSaver) -> AsyncIterator[AsyncConnection]:
    """A second connection, the way the prune command opens one (autocommit, tuple rows)."""
    async with await AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def _build_mixed_threads(saver: AsyncPostgresSaver, conn: AsyncConnection, now: datetime) -> None:
    """Finished and interrupted threads on both sides of both ages (days=30, interrupted_days=90)."""
    finishing, pausing = finishing_graph(saver), pausing_graph(saver)
    for thread_id, age in [("done-40d", 40), ("done-29d", 29), ("done-31d-sub-2d", 31)]:
        await finish(finishing, thread_id)
        await set_age(conn, thread_id, age * DAY, now=now)
    # Its root checkpoints are old, its subgraph's latest is recent: the latest across namespaces counts.
    await set_age(conn, "done-31d-sub-2d", 2 * DAY, now=now, namespace_prefix=f"{DRAFT_NODE}:")
    for thread_id, age in [("asking-40d", 40), ("asking-89d", 89), ("asking-91d", 91)]:
        await pause(pausing, thread_id)
        await set_age(conn, thread_id, age * DAY, now=now)


EXPIRED = ["done-40d", "asking-91d"]
KEPT = ["done-29d", "done-31d-sub-2d", "asking-40d", "asking-89d"]


async def test_prune_deletes_exactly_the_expired_threads_and_keeps_the_rest_loadable(saver, conn, now):
    await _build_mixed_threads(saver, conn, now)

    result = await retention.prune(conn, POLICY, batch_size=100, now=now)

    assert sorted(a.thread_id for a in result.threads) == sorted(EXPIRED)
    assert {a.thread_id: a.interrupted for a in result.threads} == {"done-40d": False, "asking-91d": True}
    remaining = await thread_ids_per_table(conn)
    for table, thread_ids in remaining.items():
        assert thread_ids == set(KEPT), table
    for thread_id in EXPIRED:
        assert await saver.aget_tuple(thread_config(thread_id)) is None
    for thread_id in ["done-29d", "done-31d-sub-2d"]:
        kept = await saver.aget_tuple(thread_config(thread_id))
        assert kept.checkpoint["channel_values"]["text"] == f"{thread_id} drafted done"
    # A kept interrupted thread still waits on its human, and finishes when answered.
    pausing = pausing_graph(saver)
    state = await pausing.aget_state(thread_config("asking-89d"))
    assert [i.value for i in state.interrupts] == ["approve?"]
    assert await resume(pausing, "asking-89d", "yes") == "asking-89d yes done"


async def test_interrupted_threads_are_kept_until_their_longer_age(saver, conn, now):
    pausing, finishing = pausing_graph(saver), finishing_graph(saver)
    await pause(pausing, "asking")
    await finish(finishing, "done")
    policy = RetentionPolicy(days=30, interrupted_days=60)
    for age, expected in [(31, {"done"}), (59, {"done"}), (61, {"done", "asking"})]:
        await set_age(conn, "asking", age * DAY, now=now)
        await set_age(conn, "done", age * DAY, now=now)
        listed = await retention.expired_threads(conn, policy, ["asking", "done"], now=now)
        assert {a.thread_id for a in listed} == expected, f"at {age} days"
    await retention.prune(conn, policy, batch_size=10, now=now)
    assert await thread_ids_per_table(conn) == {table: set() for table in await thread_ids_per_table(conn)}


async def test_a_resumed_thread_is_not_deleted(saver, conn, now):
    pausing = pausing_graph(saver)
    await pause(pausing, "asking")
    await set_age(conn, "asking", 100 * DAY, now=now)
    listed = await retention.expired_threads(conn, POLICY, ["asking"], now=now)
    assert [a.thread_id for a in listed] == ["asking"]

    await resume(pausing, "asking", "later")  # the human answers between listing and deleting

    assert await retention.delete_threads(conn, ["asking"], POLICY, now=now) == []
    assert (await saver.aget_tuple(thread_config("asking"))).checkpoint["channel_values"]["text"] == "asking later done"


async def test_dry_run_lists_the_expired_threads_and_deletes_nothing(saver, conn, now):
    await _build_mixed_threads(saver, conn, now)
    before = await row_counts(conn)

    result = await retention.prune(conn, POLICY, batch_size=1, dry_run=True, now=now)

    assert result.dry_run
    assert sorted(a.thread_id for a in result.threads) == sorted(EXPIRED)
    assert result.batches == len(EXPIRED)
    assert await row_counts(conn) == before


async def test_batches_smaller_than_the_expired_count_delete_all_in_separate_transactions(
    saver, conn, now, postgres_dsn, monkeypatch
):
    finishing = finishing_graph(saver)
    expired = [f"old-{n}" for n in range(7)]
    for thread_id in [*expired, "new-1", "new-2"]:
        await finish(finishing, thread_id)
        await set_age(conn, thread_id, (40 if thread_id in expired else 1) * DAY, now=now)

    committed_after_each_batch = []
    delete_threads = retention.delete_threads

    async def delete_and_look_from_outside(batch_conn, thread_ids, policy, *, now):
        deleted = await delete_threads(batch_conn, thread_ids, policy, now=now)
        async with await AsyncConnection.connect(postgres_dsn) as observer:
            remaining = (await thread_ids_per_table(observer))["checkpoints"]
        committed_after_each_batch.append((len(thread_ids), remaining))
        return deleted

    monkeypatch.setattr(retention, "delete_threads", delete_and_look_from_outside)
    result = await retention.prune(conn, POLICY, batch_size=3, now=now)

    assert sorted(a.thread_id for a in result.threads) == expired
    assert result.batches == 3
    assert [size for size, _ in committed_after_each_batch] == [3, 3, 3]
    # Another connection sees each batch gone as soon as it returns: every batch committed on its own.
    # Pages go by descending thread id: old-6, old-5, old-4 | old-3, old-2, old-1 | old-0, new-2, new-1.
    remaining_counts = [len(remaining) for _, remaining in committed_after_each_batch]
    assert remaining_counts == [6, 3, 2]
    assert committed_after_each_batch[-1][1] == {"new-1", "new-2"}


@pytest.mark.parametrize("id_type", ["uuid", "text"])
async def test_rows_of_the_servers_threads_table_go_with_their_checkpoints(saver, conn, now, id_type):
    await conn.execute(
        sql.SQL("CREATE TABLE threads (thread_id {} PRIMARY KEY, metadata jsonb NOT NULL DEFAULT '{{}}')").format(
            sql.SQL(id_type)
        )
    )
    old, new, never_run = (str(uuid.uuid4()) for _ in range(3))
    finishing = finishing_graph(saver)
    # A thread id that is no UUID (made outside the server API) has no row in a uuid-keyed table.
    for thread_id, age in [(old, 40), (new, 1), ("not-a-uuid", 40)]:
        await finish(finishing, thread_id)
        await set_age(conn, thread_id, age * DAY, now=now)
    for thread_id in (old, new, never_run):
        await conn.execute(sql.SQL("INSERT INTO threads (thread_id) VALUES ({})").format(sql.Literal(thread_id)))

    result = await retention.prune(conn, POLICY, batch_size=10, now=now)

    assert sorted(a.thread_id for a in result.threads) == sorted([old, "not-a-uuid"])
    cursor = await conn.execute("SELECT thread_id::text FROM threads")
    assert {row[0] for row in await cursor.fetchall()} == {new, never_run}


async def test_thread_activity_reports_latest_checkpoint_across_namespaces_and_interrupts(saver, conn, now):
    await _build_mixed_threads(saver, conn, now)

    activity = await retention.thread_activity(conn, ["done-31d-sub-2d", "asking-40d", "no-such-thread"])

    assert set(activity) == {"done-31d-sub-2d", "asking-40d"}
    assert activity["done-31d-sub-2d"].last_activity == now - 2 * DAY
    assert not activity["done-31d-sub-2d"].interrupted
    assert activity["asking-40d"].last_activity == now - 40 * DAY
    assert activity["asking-40d"].interrupted


async def test_oldest_thread_age_is_that_of_the_thread_idle_longest(saver, conn, now):
    assert await retention.oldest_thread_age_seconds(conn, now=now) == 0.0
    await _build_mixed_threads(saver, conn, now)

    assert await retention.oldest_thread_age_seconds(conn, now=now) == (91 * DAY).total_seconds()

    await retention.prune(conn, POLICY, batch_size=10, now=now)
    assert await retention.oldest_thread_age_seconds(conn, now=now) == (89 * DAY).total_seconds()


async def test_database_size_grows_with_the_data(conn):
    empty = await retention.database_size_bytes(conn)
    assert empty > 0
    await conn.execute("CREATE TABLE filler (data bytea)")
    await conn.execute("INSERT INTO filler VALUES (%s)", (os.urandom(4 * 1024 * 1024),))

    assert await retention.database_size_bytes(conn) >= empty + 4 * 1024 * 1024


def _run_cli(*args: str, database_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETENTION_", "PRUNE_", Env.DATABASE_URL))}
    if database_url is not None:
        env[Env.DATABASE_URL] = database_url
    return subprocess.run(
        [sys.executable, *PRUNE_COMMAND[1:], *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_prunes_end_to_end_and_reports_json(saver, conn, now, postgres_dsn):
    await _build_mixed_threads(saver, conn, now)

    dry = _run_cli("--days", "30", "--interrupted-days", "90", "--dry-run", database_url=postgres_dsn)
    assert dry.returncode == 0, dry.stderr
    dry_report = json.loads(dry.stdout)
    assert dry_report["dry_run"] is True
    assert sorted(dry_report["thread_ids"]) == sorted(EXPIRED)
    assert len((await thread_ids_per_table(conn))["checkpoints"]) == len(EXPIRED) + len(KEPT)

    done = _run_cli("--days", "30", "--interrupted-days", "90", "--batch-size", "1", database_url=postgres_dsn)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is False
    assert (report["threads"], report["interrupted_threads"], report["batches"]) == (2, 1, 2)
    assert sorted(report["thread_ids"]) == sorted(EXPIRED)
    assert report["thread_ids_truncated"] is False
    assert "deleted 2 thread(s) in 2 batch(es)" in done.stderr
    assert done.stderr.count("prune: batch of 1 thread(s)") == 2
    assert (await thread_ids_per_table(conn))["checkpoints"] == set(KEPT)


async def test_cli_reads_the_policy_from_the_environment(saver, conn, now, postgres_dsn, monkeypatch):
    await _build_mixed_threads(saver, conn, now)
    monkeypatch.setenv(Env.DATABASE_URL, postgres_dsn)
    environ = {Env.DATABASE_URL: postgres_dsn, Env.RETENTION_DAYS: "30", Env.RETENTION_INTERRUPTED_DAYS: "90"}

    options = prune_cli.parse_options([], environ)
    report = await prune_cli.run(options)

    assert (options.policy, options.batch_size) == (POLICY, prune_cli.DEFAULT_BATCH_SIZE)
    assert sorted(report["thread_ids"]) == sorted(EXPIRED)


def test_report_caps_the_thread_ids_but_not_the_counts(now):
    threads = [retention.ThreadActivity(f"t{n:03}", now, n % 2 == 0) for n in range(150)]
    result = retention.PruneResult(False, *POLICY.cutoffs(now), threads=threads, batches=3)
    options = prune_cli.Options(POLICY, 50, False, "postgresql://localhost/x")

    report = prune_cli.report(result, options)

    assert (report["threads"], report["interrupted_threads"]) == (150, 75)
    assert report["thread_ids"] == [f"t{n:03}" for n in range(prune_cli.REPORT_THREAD_ID_LIMIT)]
    assert report["thread_ids_truncated"] is True


BAD_INPUT = [
    (["--days", "-1", "--interrupted-days", "90"], {}, "--days (or RETENTION_DAYS) must be at least 1, got -1"),
    (["--days", "0", "--interrupted-days", "90"], {}, "--days (or RETENTION_DAYS) must be at least 1, got 0"),
    (["--days", "ten", "--interrupted-days", "90"], {}, "must be a whole number, got 'ten'"),
    (["--days", "30", "--interrupted-days", "7"], {}, "interrupted days (7) must be at least days (30)"),
    (["--interrupted-days", "90"], {}, "--days is required (or set RETENTION_DAYS)"),
    (["--days", "30"], {}, "--interrupted-days is required (or set RETENTION_INTERRUPTED_DAYS)"),
    (
        [],
        {"RETENTION_DAYS": "30", "RETENTION_INTERRUPTED_DAYS": "x"},
        "(or RETENTION_INTERRUPTED_DAYS) must be a whole",
    ),
    (["--days", "1", "--interrupted-days", "1", "--batch-size", "0"], {}, "--batch-size (or PRUNE_BATCH_SIZE) must be"),
    ([], {"RETENTION_DAYS": "1", "RETENTION_INTERRUPTED_DAYS": "1", "PRUNE_BATCH_SIZE": "20000"}, "at most 10000"),
    (["--days", "30", "--interrupted-days", "90"], {"DATABASE_URL": ""}, "DATABASE_URL is not set"),
    (
        ["--days", "30", "--interrupted-days", "90"],
        {"DATABASE_URL": "sqlite:///data/checkpoints.db"},
        "got scheme 'sqlite': prune supports only PostgreSQL",
    ),
    (["--days", "30", "--interrupted-days", "90"], {"DATABASE_URL": "/data/checkpoints.db"}, "must be a PostgreSQL"),
]


@pytest.mark.parametrize(("argv", "environ", "message"), BAD_INPUT)
def test_bad_input_exits_2_with_a_message_naming_what_is_wrong(argv, environ, message, capsys):
    environ = {Env.DATABASE_URL: "postgresql://localhost/db", **environ}
    with pytest.raises(SystemExit) as exit_info:
        prune_cli.parse_options(argv, environ)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_without_database_url_exits_2_before_touching_anything():
    run = _run_cli("--days", "30", "--interrupted-days", "90", database_url=None)
    assert run.returncode == 2
    assert "DATABASE_URL is not set: prune needs the PostgreSQL checkpoint database" in run.stderr
    assert "embedded SQLite store" in run.stderr
    assert run.stdout == ""


def test_cli_rejects_a_shorter_interrupted_age():
    run = _run_cli("--days", "30", "--interrupted-days", "7", database_url="postgresql://127.0.0.1:1/none")
    assert run.returncode == 2
    assert "--interrupted-days/--days: interrupted days (7) must be at least days (30)" in run.stderr


def test_cli_reports_an_unreachable_database_and_exits_1(postgres_dsn):
    unreachable = "postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2"
    run = _run_cli("--days", "30", "--interrupted-days", "90", database_url=unreachable)
    assert run.returncode == 1
    assert run.stderr.startswith("prune failed: ")


def test_cli_on_a_database_without_checkpoint_tables_says_to_migrate(postgres_dsn):
    run = _run_cli("--days", "30", "--interrupted-days", "90", database_url=postgres_dsn)
    assert run.returncode == 1
    assert "no checkpoints table: run the migration (python -m app.migrate) first" in run.stderr


async def test_prune_deletes_expired_store_items(postgres_dsn, saver, conn, now):
    async with AsyncPostgresStore.from_conn_string(postgres_dsn) as store:
        await store.setup()
        await store.aput(("memories", "ada"), "old", {"fact": "expired"}, ttl=1)
        await store.aput(("memories", "ada"), "fresh", {"fact": "kept"}, ttl=60)
        await store.aput(("memories", "ada"), "forever", {"fact": "no ttl"})
    await conn.execute("UPDATE store SET expires_at = now() - interval '1 minute' WHERE key = 'old'")

    dry = await retention.prune(conn, POLICY, batch_size=10, dry_run=True, now=now)
    assert dry.expired_store_items == 1
    done = await retention.prune(conn, POLICY, batch_size=10, now=now)
    assert done.expired_store_items == 1
    cursor = await conn.execute("SELECT key FROM store ORDER BY key")
    assert [row[0] for row in await cursor.fetchall()] == ["forever", "fresh"]
    options = prune_cli.Options(POLICY, 10, False, postgres_dsn)
    assert prune_cli.report(done, options)["expired_store_items"] == 1


async def test_prune_without_a_store_table_sweeps_nothing(saver, conn, now):
    assert (await retention.prune(conn, POLICY, batch_size=10, now=now)).expired_store_items == 0


async def _add_run(
    conn: AsyncConnection, run_id: str, thread_id: str, status: str, *, ended_at, events: int, temporary: bool = False
) -> None:
    await conn.execute(
        "INSERT INTO runs (run_id, thread_id, graph_id, status, kwargs, ended_at, temporary) "
        "VALUES (%s, %s, 'g', %s, '{}', %s, %s)",
        (run_id, thread_id, status, ended_at, temporary),
    )
    for seq in range(events):
        await conn.execute(
            "INSERT INTO run_events (run_id, seq, event, data) VALUES (%s, %s, 'values', '{}')", (run_id, seq)
        )


async def _runs_and_events(conn: AsyncConnection) -> tuple[set[str], dict[str, int]]:
    runs = {row[0] for row in await (await conn.execute("SELECT run_id FROM runs")).fetchall()}
    cursor = await conn.execute("SELECT run_id, count(*) FROM run_events GROUP BY run_id")
    return runs, {row[0]: row[1] for row in await cursor.fetchall()}


async def test_runs_and_their_events_go_with_their_thread_and_old_finished_runs_lose_their_events(saver, conn, now):
    await conn.execute(engine_schema.POSTGRES_SCHEMA)
    finishing = finishing_graph(saver)
    for thread_id, age in [("old", 40), ("kept", 1), ("old-but-queued", 40)]:
        await finish(finishing, thread_id)
        await set_age(conn, thread_id, age * DAY, now=now)
    await _add_run(conn, "old-run", "old", "success", ended_at=now - 40 * DAY, events=3)
    await _add_run(conn, "kept-ancient-run", "kept", "error", ended_at=now - 31 * DAY, events=2)
    await _add_run(conn, "kept-recent-run", "kept", "success", ended_at=now - 1 * DAY, events=2)
    await _add_run(conn, "kept-pending-run", "kept", "pending", ended_at=None, events=1)
    # A run waiting in the queue keeps its thread, however old the thread's last checkpoint.
    await _add_run(conn, "queued-run", "old-but-queued", "pending", ended_at=None, events=0)
    await _add_run(conn, "queued-previous", "old-but-queued", "success", ended_at=now - 40 * DAY, events=1)

    dry = await retention.prune(conn, POLICY, batch_size=10, dry_run=True, now=now)
    assert [a.thread_id for a in dry.threads] == ["old-but-queued", "old"]  # the listing does not look at runs
    assert dry.expired_run_events == 2 + 1 + 3  # ended before the cutoff: kept-ancient, queued-previous, old
    assert len((await _runs_and_events(conn))[0]) == 6

    result = await retention.prune(conn, POLICY, batch_size=10, now=now)

    assert [a.thread_id for a in result.threads] == ["old"]
    assert (await thread_ids_per_table(conn))["checkpoints"] == {"kept", "old-but-queued"}
    runs, events = await _runs_and_events(conn)
    assert runs == {"kept-ancient-run", "kept-recent-run", "kept-pending-run", "queued-run", "queued-previous"}
    assert events == {"kept-recent-run": 2, "kept-pending-run": 1}
    assert result.expired_run_events == 2 + 1
    options = prune_cli.Options(POLICY, 10, False, "postgresql://localhost/x")
    assert prune_cli.report(result, options)["expired_run_events"] == 3


async def test_prune_without_the_run_tables_sweeps_no_run_events(saver, conn, now):
    assert (await retention.prune(conn, POLICY, batch_size=10, now=now)).expired_run_events == 0


async def test_a_run_queued_between_the_check_and_the_delete_keeps_the_whole_batch(saver, conn, now, monkeypatch):
    await conn.execute(engine_schema.POSTGRES_SCHEMA)
    finishing = finishing_graph(saver)
    for thread_id in ("old-1", "old-2"):
        await finish(finishing, thread_id)
        await set_age(conn, thread_id, 40 * DAY, now=now)
    await _add_run(conn, "late-run", "old-1", "pending", ended_at=None, events=0)
    checks = []
    active_runs = retention._threads_with_active_runs

    async def first_check_misses_the_run(check_conn, thread_ids):
        checks.append(list(thread_ids))
        return set() if len(checks) == 1 else await active_runs(check_conn, thread_ids)

    monkeypatch.setattr(retention, "_threads_with_active_runs", first_check_misses_the_run)

    assert await retention.delete_threads(conn, ["old-1", "old-2"], POLICY, now=now) == []

    assert len(checks) == 2
    assert (await thread_ids_per_table(conn))["checkpoints"] == {"old-1", "old-2"}
    assert (await _runs_and_events(conn))[0] == {"late-run"}


async def test_threads_of_ended_temporary_runs_are_deleted_whatever_their_age(saver, conn, now):
    """A temporary run (stateless, or a stateless cron's with on_run_completed="delete") deletes its thread when it
    completes; one that ended otherwise (its worker was lost, the lease expired) leaves it to the next prune."""
    await conn.execute(engine_schema.POSTGRES_SCHEMA)
    finishing = finishing_graph(saver)
    for thread_id in ("left-over", "still-running", "kept-thread"):
        await finish(finishing, thread_id)
    await _add_run(conn, "lost", "left-over", "error", ended_at=now, events=2, temporary=True)
    await _add_run(conn, "going", "still-running", "running", ended_at=None, events=1, temporary=True)
    await _add_run(conn, "normal", "kept-thread", "success", ended_at=now, events=0)
    await conn.execute(platform_schema.CRONS_POSTGRES_SCHEMA)
    for thread_id in ("left-over", "kept-thread"):  # a thread's crons go with it
        await conn.execute(
            "INSERT INTO crons (cron_id, assistant_id, thread_id, schedule, payload, next_run_date, created_at, "
            "updated_at) VALUES (%s, 'a', %s, '0 3 * * *', '{}', now(), now(), now())",
            (f"cron-{thread_id}", thread_id),
        )

    dry = await retention.prune(conn, POLICY, batch_size=10, dry_run=True, now=now)
    assert dry.temporary_threads == ["left-over"] and dry.threads == []
    assert (await _runs_and_events(conn))[0] == {"lost", "going", "normal"}

    result = await retention.prune(conn, POLICY, batch_size=10, now=now)

    assert result.temporary_threads == ["left-over"] and result.threads == []
    assert (await thread_ids_per_table(conn))["checkpoints"] == {"still-running", "kept-thread"}
    assert await _runs_and_events(conn) == ({"going", "normal"}, {"going": 1})
    assert [row[0] for row in await (await conn.execute("SELECT thread_id FROM crons")).fetchall()] == ["kept-thread"]
    options = prune_cli.Options(POLICY, 10, False, "postgresql://localhost/x")
    assert prune_cli.report(result, options)["temporary_threads"] == 1
