"""Deleting a thread is one step for runs submitted meanwhile: a run that creates the thread again while its
predecessor is being deleted keeps its checkpoints, its run record and an idle thread; the retention prune of the
same thread waits for the delete rather than deadlocking with it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from app import retention
from app.contract import Env
from app.retention import RetentionPolicy
from tests.app.conftest import serve

RACE_SECONDS = 0.5  # long enough for a run on this graph to finish if nothing holds it back


def _wait(client: TestClient, thread_id: str, value: int) -> httpx.Response:
    body = {"assistant_id": "steps", "input": {"value": value}, "if_not_exists": "create"}
    return client.post(f"/threads/{thread_id}/runs/wait", json=body)


def _run_during_checkpoint_delete(
    monkeypatch: pytest.MonkeyPatch, thread_id: str, racing_run: Callable[[], None]
) -> threading.Thread:
    """Start `racing_run` (in a thread of its own) when the delete of `thread_id` reaches its checkpoints, and give
    it `RACE_SECONDS` to land before the checkpoints go."""
    racer = threading.Thread(target=racing_run)
    for saver in (AsyncPostgresSaver, AsyncSqliteSaver):
        original = saver.adelete_thread

        async def racing_delete(self: Any, deleted: str, original: Any = original) -> None:
            if deleted == thread_id and racer.ident is None:
                racer.start()
                await asyncio.sleep(RACE_SECONDS)
            await original(self, deleted)

        monkeypatch.setattr(saver, "adelete_thread", racing_delete)
    return racer


def test_a_run_creating_the_thread_during_its_delete_keeps_what_it_wrote(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id = str(uuid.uuid4())
    assert _wait(client, thread_id, 1).json()["value"] == 4
    answers: list[httpx.Response] = []
    racer = _run_during_checkpoint_delete(monkeypatch, thread_id, lambda: answers.append(_wait(client, thread_id, 10)))

    assert client.delete(f"/threads/{thread_id}").status_code == 204
    racer.join(timeout=30)

    assert not racer.is_alive() and answers[0].status_code == 200, answers
    assert answers[0].json()["value"] == 22  # (10 + 1) * 2: a fresh thread, not the deleted one's state
    assert client.get(f"/threads/{thread_id}/state").json()["values"]["value"] == 22
    assert client.get(f"/threads/{thread_id}").json()["status"] == "idle"
    assert [run["status"] for run in client.get(f"/threads/{thread_id}/runs").json()] == ["success"]


def test_the_retention_prune_of_a_thread_being_deleted_waits_instead_of_deadlocking(
    postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's delete and the prune job take the thread's row before its checkpoints, so one waits for the other;
    in the other order each held what the other needed next, until PostgreSQL aborted one of them."""
    thread_id = str(uuid.uuid4())
    pruned: list[Any] = []

    def prune() -> None:
        async def delete() -> list[Any]:
            dsn = postgres_env[Env.DATABASE_URL]
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                later = datetime.now(UTC) + timedelta(days=365)  # every checkpoint is past the policy's age
                policy = RetentionPolicy(days=1, interrupted_days=1)
                return await retention.delete_threads(conn, [thread_id], policy, now=later)

        try:
            pruned.append(asyncio.run(delete()))
        except Exception as error:  # the assertion below names it
            pruned.append(error)

    with serve(postgres_env) as client:
        assert _wait(client, thread_id, 1).status_code == 200
        racer = _run_during_checkpoint_delete(monkeypatch, thread_id, prune)
        answer = client.delete(f"/threads/{thread_id}")
        racer.join(timeout=30)
        assert client.get(f"/threads/{thread_id}").status_code == 404
    assert answer.status_code == 204, answer.text
    assert not racer.is_alive() and not isinstance(pruned[0], Exception), pruned
