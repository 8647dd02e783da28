"""`runs.create_batch` and `runs.cancel_many` through the official `langgraph-sdk` client, on PostgreSQL and on
the embedded SQLite file."""

from __future__ import annotations

import time

import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

from tests.sdk.test_background_runs import SLOW


def _statuses(client: SyncLangGraphClient, runs: list[dict], settled: set[str], timeout: float = 10) -> list[str]:
    """The runs' statuses once none is outside `settled` (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [client.runs.get(run["thread_id"], run["run_id"])["status"] for run in runs]
        if set(statuses) <= settled or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)


def test_create_batch_starts_one_stateless_run_per_payload(client: SyncLangGraphClient) -> None:
    runs = client.runs.create_batch(
        [{"assistant_id": "steps", "input": {"value": 1}}, {"assistant_id": "steps", "input": {"value": 5}}]
    )
    assert len(runs) == 2 and len({run["thread_id"] for run in runs}) == 2
    values = [client.runs.join(run["thread_id"], run["run_id"])["value"] for run in runs]
    assert values == [4, 12]


def test_a_bad_payload_in_a_batch_names_its_index_and_starts_nothing(client: SyncLangGraphClient) -> None:
    before = client.threads.count()
    with pytest.raises(UnprocessableEntityError) as raised:
        client.runs.create_batch(
            [{"assistant_id": "steps", "input": {"value": 1}}, {"assistant_id": "steps", "input": {"nope": 1}}]
        )
    assert "[1]" in raised.value.message and "nope" in raised.value.message
    assert client.threads.count() == before


def test_an_empty_or_oversized_batch_is_a_422(client: SyncLangGraphClient) -> None:
    with pytest.raises(UnprocessableEntityError):
        client.runs.create_batch([])
    with pytest.raises(UnprocessableEntityError) as raised:
        client.runs.create_batch([{"assistant_id": "steps", "input": {"value": 1}}] * 1001)
    assert "1000" in raised.value.message


def test_cancel_many_by_thread_and_run_ids(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    running = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 3})
    queued = client.runs.create(thread_id, "steps", input=SLOW)
    client.runs.cancel_many(thread_id=thread_id, run_ids=[running["run_id"], queued["run_id"]])
    assert _statuses(client, [running, queued], {"interrupted"}) == ["interrupted", "interrupted"]


def test_cancel_many_by_status_leaves_other_statuses_alone(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    running = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 1})
    queued = client.runs.create(thread_id, "steps", input=SLOW)
    assert _statuses(client, [running], {"running"}) == ["running"]
    client.runs.cancel_many(status="pending")
    assert client.runs.get(thread_id, queued["run_id"])["status"] == "interrupted"
    assert client.runs.join(thread_id, running["run_id"])["value"] == 4
    assert client.runs.get(thread_id, running["run_id"])["status"] == "success"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"status": "pending", "thread_id": "00000000-0000-0000-0000-000000000000"}, "status"),
        ({"status": "finished"}, "status"),
        ({"thread_id": "00000000-0000-0000-0000-000000000000"}, "run_ids"),
        ({"run_ids": ["00000000-0000-0000-0000-000000000000"]}, "thread_id"),
        ({}, "status"),
    ],
)
def test_cancel_many_refuses_an_ambiguous_selection(client: SyncLangGraphClient, body: dict, named: str) -> None:
    response = client.http.client.post("/runs/cancel", json=body)
    assert response.status_code == 422
    assert named in response.json()["detail"]
