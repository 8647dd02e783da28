"""The scheduler's handling of each claimed cron: one failure neither stops the batch nor goes uncounted."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter

from app.contract import Metrics
from app.server.engine.engine import ThreadMissing
from app.server.platform_api import cron_scheduler
from app.server.platform_api.cron_scheduler import CronScheduler


class _Crons:
    def __init__(self, claimed: list[dict[str, Any]]) -> None:
        self.claimed = claimed
        self.deleted_for_thread: list[str] = []

    async def claim(self) -> list[dict[str, Any]]:
        return self.claimed

    async def delete_for_thread(self, thread_id: str) -> None:
        self.deleted_for_thread.append(thread_id)


class _Engine:
    def __init__(self, outcomes: dict[str, Exception | None]) -> None:
        self.outcomes = outcomes
        self.submitted: list[str] = []

    async def submit(self, spec: str, *, start: bool) -> dict[str, Any]:
        self.submitted.append(spec)
        if (error := self.outcomes[spec]) is not None:
            raise error
        return {"run_id": f"run-{spec}"}


def _cron(cron_id: str, thread_id: str | None = None) -> dict[str, Any]:
    return {"cron_id": cron_id, "thread_id": thread_id, "payload": {}, "metadata": {}, "on_run_completed": "delete"}


def _scheduler(claimed: list[dict[str, Any]], outcomes: dict[str, Exception | None]) -> CronScheduler:
    scheduler = CronScheduler.__new__(CronScheduler)
    scheduler.platform = SimpleNamespace(crons=_Crons(claimed))
    scheduler.engine = _Engine(outcomes)
    scheduler.fires = Counter(Metrics.CRON_FIRES, "test", ["outcome"], registry=CollectorRegistry())
    return scheduler


def _fires(scheduler: CronScheduler, outcome: str) -> float:
    return scheduler.fires.labels(outcome)._value.get()


@pytest.fixture(autouse=True)
def _spec_is_the_cron_id(monkeypatch: pytest.MonkeyPatch) -> None:
    async def cron_run(platform: object, thread_id: str | None, payload: dict, metadata: dict) -> str:
        return thread_id or "stateless"

    monkeypatch.setattr(cron_scheduler, "cron_run", cron_run)


def test_a_database_error_on_one_cron_is_counted_and_the_rest_still_fire() -> None:
    claimed = [_cron("a", "broken"), _cron("b", "fine")]
    scheduler = _scheduler(claimed, {"broken": psycopg.OperationalError("connection lost"), "fine": None})
    assert asyncio.run(scheduler.tick()) == 2
    assert scheduler.engine.submitted == ["broken", "fine"]
    assert (_fires(scheduler, "failed"), _fires(scheduler, "run_created")) == (1, 1)


def test_a_cron_whose_thread_is_gone_is_deleted_and_not_counted_as_a_failure() -> None:
    scheduler = _scheduler([_cron("a", "deleted")], {"deleted": ThreadMissing("deleted")})
    asyncio.run(scheduler.tick())
    assert scheduler.platform.crons.deleted_for_thread == ["deleted"]
    assert (_fires(scheduler, "failed"), _fires(scheduler, "thread_deleted")) == (0, 1)
