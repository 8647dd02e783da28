"""The pool is opened once and reused; schema setup is a separate command; readiness reflects the database; a run
on a thread its own submit created does not read the thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from app.contract import METRICS_PATH, READY_PATH, Env, Metrics
from app.graphs.steps import graph as steps_builder
from app.migrate import MIGRATIONS, MIGRATIONS_TABLE, Migration, SchemaError, migrate
from app.server.engine.engine import Outcome, RunSpec
from app.server.pool import open_database
from app.server.settings import Settings
from tests.app.conftest import GRAPHS_WITH_A_STORE_INDEX, serve, settings_for


def test_pool_is_reused_across_requests(postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_setup(*_: object) -> None:
        raise AssertionError("schema setup must not run while serving requests")

    with serve(postgres_env, **{Env.DB_POOL_MIN_SIZE: "2", Env.DB_POOL_MAX_SIZE: "4"}) as client:
        monkeypatch.setattr(AsyncPostgresSaver, "setup", no_setup)
        pool = client.app.state.runtime.database.pool
        client.post("/graphs/steps/invoke", json={"thread_id": "warm", "input": {"value": 1}})
        before = pool.get_stats()
        for n in range(20):
            assert (
                client.post("/graphs/steps/invoke", json={"thread_id": f"p-{n}", "input": {"value": n}}).status_code
                == 200
            )
            assert client.get(READY_PATH).status_code == 200
        after = pool.get_stats()
        metrics = client.get(METRICS_PATH).text
    # Connections ever opened stay within the pool's maximum over 21 runs: none is opened per request (a run may
    # use two at once, its checkpoint write overlapping the next step's reads, so the pool can grow to its max).
    assert after["connections_num"] <= 4
    assert after["requests_num"] - before["requests_num"] >= 20 * 5  # yet every run borrowed connections
    assert f"{Metrics.POOL_MAX_SIZE} 4.0" in metrics
    assert f"{Metrics.POOL_SIZE} " in metrics and f"{Metrics.POOL_AVAILABLE} " in metrics
    assert f"{Metrics.POOL_WAITING} 0.0" in metrics


def test_pool_settings_reach_the_pool(postgres_env: dict[str, str]) -> None:
    overrides = {Env.DB_POOL_MIN_SIZE: "1", Env.DB_POOL_MAX_SIZE: "3", Env.DB_POOL_TIMEOUT_SECONDS: "4",
                 Env.DB_PREPARED_STATEMENTS: "false"}  # fmt: skip
    with serve(postgres_env, **overrides) as client:
        pool = client.app.state.runtime.database.pool
        assert (pool.min_size, pool.max_size, pool.timeout) == (1, 3, 4.0)
        assert pool.kwargs["prepare_threshold"] is None
        assert client.post("/graphs/steps/invoke", json={"thread_id": "t", "input": {"value": 1}}).status_code == 200


def test_readiness_fails_until_the_schema_is_migrated(postgres_dsn: str, tmp_path: Path) -> None:
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path)}
    with serve(env) as client:
        response = client.get(READY_PATH)
        assert response.status_code == 503
        assert "python -m app.migrate" in response.json()["reason"]
        asyncio.run(migrate(Settings(**env)))
        assert client.get(READY_PATH).status_code == 200


def test_migrate_on_startup_sets_up_the_schema(postgres_dsn: str, tmp_path: Path) -> None:
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path), Env.MIGRATE_ON_STARTUP: "true"}
    with serve(env) as client:
        assert client.get(READY_PATH).status_code == 200


def test_readiness_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    from tests.pg import free_port

    env = {Env.DATABASE_URL: f"postgresql://postgres@127.0.0.1:{free_port()}/none", Env.DATA_DIR: str(tmp_path)}
    with serve(env, **{Env.DB_POOL_MIN_SIZE: "0"}) as client:
        response = client.get(READY_PATH)
        assert response.status_code == 503
        assert response.json()["reason"] == "database unreachable"
        assert client.get("/health").status_code == 200


def test_requests_get_503_naming_the_database_when_it_is_unreachable(tmp_path: Path) -> None:
    from tests.pg import free_port

    env = {Env.DATABASE_URL: f"postgresql://postgres@127.0.0.1:{free_port()}/none", Env.DATA_DIR: str(tmp_path)}
    with serve(env, **{Env.DB_POOL_MIN_SIZE: "0", Env.DB_POOL_TIMEOUT_SECONDS: "0.3"}) as client:
        responses = {
            "invoke": client.post("/graphs/steps/invoke", json={"thread_id": "t", "input": {"value": 1}}),
            "state": client.get("/graphs/steps/state", params={"thread_id": "t"}),
            "history": client.get("/graphs/steps/history", params={"thread_id": "t"}),
            "update": client.post("/graphs/steps/state", json={"thread_id": "t", "values": {"value": 2}}),
        }
        stream = client.post("/graphs/steps/stream", json={"thread_id": "t", "input": {"value": 1}})
        platform = client.post("/threads", json={})
        platform_run = client.post("/runs/wait", json={"assistant_id": "steps", "input": {"value": 1}})
    for name, response in responses.items():
        assert response.status_code == 503, (name, response.text)
        assert response.json()["error"] == "database_unavailable", name
        assert "database" in response.json()["message"] and response.headers["retry-after"], name
    # the run cannot be recorded, so the stream is refused before its first byte, with a proper status
    assert stream.status_code == 503 and stream.json()["error"] == "database_unavailable"
    for response in (platform, platform_run):
        assert response.status_code == 503, response.text
        assert "database" in response.json()["detail"] and response.headers["retry-after"]


def test_saver_database_calls_run_concurrently_on_a_pool(postgres_env: dict[str, str]) -> None:
    """The library's per-saver lock would make the second cursor wait for the first forever."""

    async def two_cursors_at_once() -> bool:
        async with open_database(settings_for(postgres_env)) as database:
            saver = database.saver
            async with saver._cursor() as first, saver._cursor() as second:
                return first.connection is not second.connection

    assert asyncio.run(asyncio.wait_for(two_cursors_at_once(), timeout=10))


NOTES = Migration(
    version=1,
    name="create_notes",
    postgres="CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    sqlite="CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
)
NOTES_INDEX = Migration(
    version=2,
    name="index_notes_body",
    postgres="CREATE INDEX notes_body ON notes (body)",
    sqlite="CREATE INDEX notes_body ON notes (body)",
)


def test_a_store_index_on_postgres_without_pgvector_fails_migration_in_one_line(
    postgres_dsn: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        Env.DATABASE_URL: postgres_dsn,
        Env.DATA_DIR: str(tmp_path),
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "pgvector" in line]
    assert "store.index" in line and "pgvector/pgvector:pg17" in line and "Traceback" not in done.stderr


def test_a_store_index_on_postgres_without_pgvector_stops_migrate_on_startup(postgres_dsn: str, tmp_path: Path) -> None:
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path), Env.MIGRATE_ON_STARTUP: "true"}
    with (
        pytest.raises(SchemaError, match="pgvector/pgvector:pg17"),
        serve(env, **{Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX)}),
    ):
        pass


def test_readiness_fails_while_a_configured_store_index_has_no_vector_tables(postgres_dsn: str, tmp_path: Path) -> None:
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path)}
    asyncio.run(migrate(Settings(**env)))  # without an index: no vector tables
    with serve(env, **{Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX)}) as client:
        response = client.get(READY_PATH)
        assert response.status_code == 503
        assert "store.index" in response.json()["reason"] and "python -m app.migrate" in response.json()["reason"]


def test_project_migrations_apply_once_in_order_on_postgres(postgres_dsn: str, tmp_path: Path) -> None:
    settings = Settings(**{Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path)})
    assert asyncio.run(migrate(settings, (NOTES,))) == [1]
    assert asyncio.run(migrate(settings, (NOTES, NOTES_INDEX))) == [2]
    assert asyncio.run(migrate(settings, (NOTES, NOTES_INDEX))) == []
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version").fetchall()  # noqa: S608
        checkpoint_version = conn.execute("SELECT max(v) FROM checkpoint_migrations").fetchone()[0]
    assert rows == [(1, "create_notes"), (2, "index_notes_body")]
    assert checkpoint_version == len(AsyncPostgresSaver.MIGRATIONS) - 1


def test_concurrent_migrators_do_not_collide(postgres_dsn: str, tmp_path: Path) -> None:
    settings = Settings(**{Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path)})

    async def both() -> list[list[int]]:
        return list(await asyncio.gather(migrate(settings, (NOTES,)), migrate(settings, (NOTES,))))

    assert sorted(asyncio.run(both())) == [[], [1]]


def test_project_migrations_apply_once_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(**{Env.DATA_DIR: str(tmp_path)})
    assert asyncio.run(migrate(settings, (NOTES, NOTES_INDEX))) == [1, 2]
    assert asyncio.run(migrate(settings, (NOTES, NOTES_INDEX))) == []
    with sqlite3.connect(settings.sqlite_path) as conn:
        assert conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}").fetchall() == [(1,), (2,)]  # noqa: S608
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)


def test_migrations_must_be_numbered_in_order(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1, 2, 3"):
        asyncio.run(migrate(Settings(**{Env.DATA_DIR: str(tmp_path)}), (NOTES_INDEX,)))
    with pytest.raises(ValueError, match="lower_snake_case"):
        Migration(version=1, name="Drop table; --", postgres="", sqlite="")


def test_checkpoint_store_gauges_come_from_the_database(postgres_env: dict[str, str]) -> None:
    with serve(postgres_env) as client:
        assert client.post("/graphs/steps/invoke", json={"input": {"value": 1}, "thread_id": "g-1"}).status_code == 200
        runtime = client.app.state.runtime
        client.portal.call(runtime.stats.refresh)
        samples = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in client.get(METRICS_PATH).text.splitlines()
            if line and not line.startswith("#")
        }
    assert samples[Metrics.CHECKPOINT_DB_SIZE] > 1_000_000  # an empty PostgreSQL database is ~7 MB
    assert 0 <= samples[Metrics.OLDEST_THREAD_AGE] < 60


def test_sqlite_exports_no_checkpoint_store_gauges(sqlite_env: dict[str, str]) -> None:
    with serve(sqlite_env) as client:
        text = client.get(METRICS_PATH).text
    assert Metrics.CHECKPOINT_DB_SIZE not in text
    assert Metrics.OLDEST_THREAD_AGE not in text


def _raised(make: Callable[[], object]) -> BaseException:
    try:
        make()
    except Exception as error:
        return error
    raise AssertionError("nothing raised")


def _wrapped(cause: BaseException, suppress: bool) -> None:
    try:
        raise cause
    except Exception:
        if suppress:
            raise ValueError("graph's own error") from None
        raise ValueError("graph's own error")  # noqa: B904


def test_only_connection_failures_count_as_the_database_being_unavailable() -> None:
    from psycopg import errors as pg_errors
    from psycopg_pool import PoolTimeout

    from app.server.errors import database_unavailable

    assert database_unavailable(PoolTimeout("couldn't get a connection after 5.00 sec"))
    assert database_unavailable(psycopg.OperationalError("connection refused"))
    assert database_unavailable(pg_errors.AdminShutdown("terminating connection due to administrator command"))
    assert not database_unavailable(pg_errors.SerializationFailure("could not serialize access"))
    assert not database_unavailable(pg_errors.QueryCanceled("canceling statement due to statement timeout"))
    assert not database_unavailable(ValueError("not a database error"))
    assert database_unavailable(_raised(lambda: _wrapped(PoolTimeout("timeout"), suppress=False)))
    assert not database_unavailable(_raised(lambda: _wrapped(PoolTimeout("timeout"), suppress=True)))


def test_pool_check_finds_terminated_backends_without_a_round_trip_on_healthy_ones(postgres_dsn: str) -> None:
    """`DB_POOL_CHECK_CONNECTIONS`: a connection whose backend was terminated is never lent (the caller gets a
    working one), and a healthy connection is lent without the empty-query round trip."""

    async def scenario() -> None:
        settings = Settings(DATABASE_URL=postgres_dsn, DB_POOL_MIN_SIZE=1, DB_POOL_MAX_SIZE=1)
        async with open_database(settings) as database:
            pool = database.pool
            assert pool is not None
            await pool.wait()
            async with pool.connection() as conn:
                first_pid = conn.info.backend_pid
            empty_queries = 0
            original_execute = psycopg.AsyncConnection.execute

            async def counting_execute(self: psycopg.AsyncConnection, query: object, *args: object, **kw: object):
                nonlocal empty_queries
                empty_queries += query == ""
                return await original_execute(self, query, *args, **kw)

            psycopg.AsyncConnection.execute = counting_execute  # type: ignore[method-assign]
            try:
                for _ in range(5):
                    async with pool.connection() as conn:
                        await conn.execute("SELECT 1")
                assert empty_queries == 0, "a healthy connection was checked with a round trip"
                with psycopg.connect(postgres_dsn, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
                await asyncio.sleep(0.2)  # the FATAL message and EOF reach the pooled connection's socket
                async with pool.connection() as conn:
                    row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
                assert row is not None and row["pid"] != first_pid
                assert empty_queries == 1, "the terminated connection was lent without its round-trip check"
            finally:
                psycopg.AsyncConnection.execute = original_execute  # type: ignore[method-assign]

    asyncio.run(scenario())


# ---- a run on a thread its own submit created does not read the thread's (nonexistent) checkpoint ----

Read = tuple[str, str, str | None]


@pytest.fixture
def database_reads(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """Every checkpoint read that reaches the database (the library savers' `aget_tuple`), as (thread, namespace,
    checkpoint id)."""
    reads: list[Read] = []
    for library_saver in (AsyncPostgresSaver, AsyncSqliteSaver):

        async def aget_tuple(self: object, config: dict, _original: Callable = library_saver.aget_tuple) -> object:
            configurable = config["configurable"]
            reads.append(
                (configurable["thread_id"], configurable.get("checkpoint_ns", ""), configurable.get("checkpoint_id"))
            )
            return await _original(self, config)

        monkeypatch.setattr(library_saver, "aget_tuple", aget_tuple)
    return reads


def _latest_reads(reads: list[Read], thread_id: str | None = None) -> int:
    """How many reads of a thread's latest root checkpoint (of any thread when `thread_id` is None)."""
    return sum(1 for thread, ns, checkpoint in reads if thread_id in (None, thread) and not ns and checkpoint is None)


def _engine_run(
    client: TestClient, thread_id: str, value: int, graph: str = "steps"
) -> Callable[[], Awaitable[Outcome]]:
    """A coroutine function that submits a run on `thread_id` (created if new) and executes it, as invoke does."""
    engine = client.app.state.engine

    async def run() -> Outcome:
        spec = RunSpec(graph=engine.runtime.registry.get(graph), thread_id=thread_id, input={"value": value})
        return await engine.execute(await engine.submit(spec, start=True))

    return run


def test_a_run_on_a_thread_its_submit_created_reads_no_checkpoint(
    client: TestClient, database_reads: list[Read]
) -> None:
    """/graphs invoke, runs.wait and runs.stream with if_not_exists=create, and a stateless run: one database read
    fewer."""
    body = client.post("/graphs/steps/invoke", json={"input": {"value": 3}, "thread_id": "fresh-invoke"}).json()
    assert body["state"]["value"] == 8
    assert _latest_reads(database_reads, "fresh-invoke") == 0
    waited = client.post(
        "/threads/fresh-wait/runs/wait",
        json={"assistant_id": "steps", "input": {"value": 1}, "if_not_exists": "create"},
    )
    assert waited.json()["value"] == 4
    assert _latest_reads(database_reads, "fresh-wait") == 0
    events = {"assistant_id": "steps", "input": {"value": 1}, "if_not_exists": "create", "stream_mode": ["events"]}
    streamed = client.post("/threads/fresh-events/runs/stream", json=events)  # astream_events: the graph in a task
    assert streamed.status_code == 200 and "on_chain_end" in streamed.text
    assert _latest_reads(database_reads, "fresh-events") == 0
    database_reads.clear()
    assert client.post("/runs/wait", json={"assistant_id": "steps", "input": {"value": 2}}).json()["value"] == 6
    assert _latest_reads(database_reads) == 0


def test_a_subgraph_on_a_new_thread_still_reads_its_own_namespace(
    failing_client: TestClient, database_reads: list[Read]
) -> None:
    body = failing_client.post(
        "/graphs/nested/invoke", json={"input": {"count": 1}, "thread_id": "fresh-nested"}
    ).json()
    assert body["state"] == {"count": 2}
    assert _latest_reads(database_reads, "fresh-nested") == 0
    assert any(thread == "fresh-nested" and ns for thread, ns, _ in database_reads)


def test_a_run_on_an_existing_thread_reads_its_state(client: TestClient, database_reads: list[Read]) -> None:
    client.post("/graphs/steps/invoke", json={"input": {"value": 1}, "thread_id": "kept"})
    created = client.post("/threads", json={"thread_id": "made-first"}).json()["thread_id"]
    database_reads.clear()
    again = client.post("/graphs/steps/invoke", json={"input": {"value": 1}, "thread_id": "kept"}).json()
    assert again["state"]["trail"] == ["add_one", "double", "describe"] * 2  # continued from the first run's state
    assert _latest_reads(database_reads, "kept") == 1
    client.post(f"/threads/{created}/runs/wait", json={"assistant_id": "steps", "input": {"value": 1}})
    assert _latest_reads(database_reads, created) == 1  # the thread existed before the run's submit


def test_a_resumed_attempt_reads_what_its_first_attempt_wrote(client: TestClient, database_reads: list[Read]) -> None:
    """A run whose submit created its thread, taken again after a lease expiry (attempt 2), reads the thread."""
    engine = client.app.state.engine
    steps = engine.runtime.registry.get("steps")

    async def resumed() -> Outcome:
        run = await engine.submit(RunSpec(graph=steps, thread_id="resumed", input={"value": 1}), start=True)
        # the first attempt wrote add_one's checkpoint, then its process was lost
        config = {"configurable": {"thread_id": "resumed"}, "metadata": {"run_id": run["run_id"]}}
        await steps.graph.aupdate_state(config, {"value": 10, "trail": ["add_one"]}, as_node="add_one")
        database_reads.clear()
        run["attempts"] = 2
        return await engine.execute(run)

    outcome = client.portal.call(resumed)
    assert outcome.status == "success", outcome.error
    assert outcome.values["value"] == 20 and outcome.values["trail"] == ["add_one", "double", "describe"]
    assert _latest_reads(database_reads, "resumed") >= 1


def test_runs_on_new_threads_at_once_skip_only_their_own_read(client: TestClient, database_reads: list[Read]) -> None:
    """Concurrent runs on new threads and one on a thread with state, then, in one task, a new thread's run
    followed by an existing thread's: each new thread's read is skipped, no other."""
    client.portal.call(_engine_run(client, "old", 1))
    database_reads.clear()

    async def at_once() -> list[Outcome]:
        runs = [_engine_run(client, f"new-{n}", n)() for n in range(6)]
        return await asyncio.gather(*runs, _engine_run(client, "old", 1)())

    *new, old = client.portal.call(at_once)
    assert [o.values["value"] for o in new] == [(n + 1) * 2 for n in range(6)]
    assert all(o.values["trail"] == ["add_one", "double", "describe"] for o in new)
    assert old.values["trail"] == ["add_one", "double", "describe"] * 2
    assert [_latest_reads(database_reads, f"new-{n}") for n in range(6)] == [0] * 6
    assert _latest_reads(database_reads, "old") == 1

    async def one_after_the_other() -> Outcome:
        await _engine_run(client, "new-then", 1)()
        return await _engine_run(client, "old", 1)()

    database_reads.clear()
    assert client.portal.call(one_after_the_other).values["trail"] == ["add_one", "double", "describe"] * 3
    assert _latest_reads(database_reads, "new-then") == 0 and _latest_reads(database_reads, "old") == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_7_gives_checkpointed_threads_without_a_row_one(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Before migration 3 the /graphs API wrote checkpoints without a `threads` row: after migration 7 such a
    thread is not one its next run's submit creates, so the run continues from its state."""
    env = {Env.DATA_DIR: str(tmp_path / "data")}
    if backend == "postgres":
        env[Env.DATABASE_URL] = request.getfixturevalue("postgres_dsn")
    settings = settings_for(env)
    assert asyncio.run(migrate(settings, MIGRATIONS[:6])) == [1, 2, 3, 4, 5, 6]

    async def write_checkpoints_only() -> None:
        async with open_database(settings) as database:
            await steps_builder.compile(checkpointer=database.saver).ainvoke(
                {"value": 1}, {"configurable": {"thread_id": "legacy"}}
            )

    asyncio.run(write_checkpoints_only())
    assert asyncio.run(migrate(settings)) == [7]
    with serve(env) as client:
        thread = client.get("/threads/legacy").json()
        assert (thread["status"], thread["metadata"]) == ("idle", {})
        again = client.post("/graphs/steps/invoke", json={"input": {"value": 1}, "thread_id": "legacy"}).json()
    assert again["state"]["trail"] == ["add_one", "double", "describe"] * 2


def test_app_submit_run_answers_what_the_previous_release_reads(postgres_env: dict[str, str]) -> None:
    """During a rolling update, pods of the previous release call the function migration 7 installed: a run
    started on a new thread is still `started` for them (they read no `created`); the thread's graph in
    `bound_graph` is what tells this release that the submit created the thread."""
    submit = (
        "SELECT * FROM app_submit_run(%s, %s, 'steps', 'reject', true, '{}'::jsonb, '{}'::jsonb, false, true, "
        "'worker', interval '15 seconds')"
    )
    with psycopg.connect(postgres_env[Env.DATABASE_URL], autocommit=True) as conn:
        first = conn.execute(submit, ("run-1", "rolling")).fetchone()
        conn.execute("UPDATE runs SET status = 'success' WHERE run_id = 'run-1'")
        second = conn.execute(submit, ("run-2", "rolling")).fetchone()
    assert first == ("started", "steps", None)
    assert second == ("started", None, None)
