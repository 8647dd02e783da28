"""Deleting a thread is one step for runs submitted meanwhile: a run that creates the thread again while its
predecessor is being deleted keeps its checkpoints, its run record and an idle thread."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

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
