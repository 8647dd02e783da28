"""Readiness is cheap: a ready answer is reused for a moment and concurrent probes share one database check."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from app.server.routes import health


class CountingDatabase:
    def __init__(self, problem: str | None = None, delay: float = 0.0) -> None:
        self.calls = 0
        self.problem = problem
        self.delay = delay

    async def schema_problem(self, check_schema: bool) -> str | None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return self.problem


class FakeRuntime:
    """What readiness reads of `app.server.runtime.Runtime`."""

    def __init__(self, database: CountingDatabase) -> None:
        self.drain = SimpleNamespace(draining=False)
        self.database = database
        self.schema_checked = False


def fake_runtime(database: CountingDatabase) -> FakeRuntime:
    return FakeRuntime(database)


def test_many_probes_within_the_cache_window_cost_one_database_check() -> None:
    database = CountingDatabase()
    runtime = fake_runtime(database)

    async def probe_many() -> list[str | None]:
        sequential = [await health.readiness_problem(runtime) for _ in range(20)]
        concurrent = await asyncio.gather(*(health.readiness_problem(runtime) for _ in range(64)))
        return [*sequential, *concurrent]

    assert asyncio.run(probe_many()) == [None] * 84
    assert database.calls == 1


def test_concurrent_probes_share_one_check_while_the_database_is_slow() -> None:
    database = CountingDatabase(problem="schema missing", delay=0.05)
    runtime = fake_runtime(database)

    async def probe() -> list[str | None]:
        return await asyncio.gather(*(health.readiness_problem(runtime) for _ in range(64)))

    assert asyncio.run(probe()) == ["schema missing"] * 64
    assert database.calls == 1


def test_a_problem_is_not_cached_so_recovery_shows_at_once() -> None:
    database = CountingDatabase(problem="schema missing")
    runtime = fake_runtime(database)

    async def probe_twice() -> tuple[str | None, str | None]:
        first = await health.readiness_problem(runtime)
        database.problem = None
        return first, await health.readiness_problem(runtime)

    assert asyncio.run(probe_twice()) == ("schema missing", None)


def test_the_ready_answer_expires(monkeypatch) -> None:
    database = CountingDatabase()
    runtime = fake_runtime(database)
    monkeypatch.setattr(health, "READY_CACHE_SECONDS", 0.0)

    async def probe_twice() -> None:
        await health.readiness_problem(runtime)
        await health.readiness_problem(runtime)

    asyncio.run(probe_twice())
    assert database.calls == 2


def test_draining_is_reported_at_once_even_with_a_cached_ready_answer() -> None:
    runtime = fake_runtime(CountingDatabase())

    async def probe() -> str | None:
        await health.readiness_problem(runtime)
        runtime.drain.draining = True
        return await health.readiness_problem(runtime)

    assert asyncio.run(probe()) == "draining"
