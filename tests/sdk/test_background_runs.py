"""Background runs, joins, cancellation and multitask strategies through the official `langgraph-sdk` client,
against a server on PostgreSQL (with a second replica on the same database) and on the embedded SQLite file."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError

from tests.sdk.conftest import API_KEY

SLOW = {"value": 1, "sleep_seconds": 0.4}


def _wait_status(client: SyncLangGraphClient, thread_id: str, run_id: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.runs.get(thread_id, run_id)["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} not {status} within {timeout}s")


def test_create_get_list_join_delete(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "steps", input={"value": 2})
    assert run["thread_id"] == thread_id
    assert run["assistant_id"] == client.assistants.get("steps")["assistant_id"]  # the default assistant's UUID
    assert run["status"] in ("pending", "running", "success")
    assert client.runs.join(thread_id, run["run_id"])["value"] == 6
    assert client.runs.get(thread_id, run["run_id"])["status"] == "success"
    assert [r["run_id"] for r in client.runs.list(thread_id)] == [run["run_id"]]
    client.runs.delete(thread_id, run["run_id"])
    assert client.runs.list(thread_id) == []


def test_enqueue_is_the_default_and_runs_in_order(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    first = client.runs.create(thread_id, "steps", input=SLOW)
    second = client.runs.create(thread_id, "steps", input=None, command={"update": {"value": 100}})
    assert second["status"] == "pending"
    final = client.runs.join(thread_id, second["run_id"])
    assert client.runs.get(thread_id, first["run_id"])["status"] == "success"
    assert final["value"] == 100  # the second run ran after the first, on its state
    waited = client.runs.wait(thread_id, "steps", input={"value": 1})  # a wait on a busy thread queues too
    assert waited["value"] == 4


def test_reject_refuses_a_busy_thread(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "steps", input=SLOW)
    with pytest.raises(ConflictError) as raised:
        client.runs.create(thread_id, "steps", input={"value": 1}, multitask_strategy="reject")
    assert run["run_id"] in raised.value.message
    client.runs.join(thread_id, run["run_id"])


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
def test_interrupt_and_rollback_cancel_the_running_run(client: SyncLangGraphClient, strategy: str) -> None:
    thread_id = client.threads.create()["thread_id"]
    first = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 2})
    _wait_status(client, thread_id, first["run_id"], "running")
    started = time.monotonic()
    result = client.runs.wait(thread_id, "steps", input={"value": 10, "sleep_seconds": 0}, multitask_strategy=strategy)
    assert time.monotonic() - started < 5  # the first run did not finish its 6 s
    assert client.runs.get(thread_id, first["run_id"])["status"] == "interrupted"
    if strategy == "rollback":
        assert result["trail"] == ["add_one", "double", "describe"]  # nothing of the cancelled run is left
    assert result["value"] == 22


def test_cancel_and_join_stream(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "steps", input=SLOW, stream_mode="updates")
    parts = list(client.runs.join_stream(thread_id, run["run_id"], stream_mode="updates"))
    updates = [p.data for p in parts if p.event == "updates"]
    assert [next(iter(u)) for u in updates] == ["add_one", "double", "describe"]
    slow = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 3})
    _wait_status(client, thread_id, slow["run_id"], "running")
    client.runs.cancel(thread_id, slow["run_id"], wait=True)
    assert client.runs.get(thread_id, slow["run_id"])["status"] == "interrupted"
    assert client.threads.get(thread_id)["status"] != "busy"


def test_join_stream_resumes_after_last_event_id(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "steps", input=SLOW, stream_mode="updates")
    client.runs.join(thread_id, run["run_id"])
    everything = list(client.runs.join_stream(thread_id, run["run_id"]))
    assert everything[0].event == "metadata"
    rest = list(client.runs.join_stream(thread_id, run["run_id"], last_event_id="2"))
    assert [p.data for p in rest] == [p.data for p in everything[2:]]


def test_wait_disconnect_cancels_the_run(server_url: str, client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    body = {"assistant_id": "steps", "input": {"value": 1, "sleep_seconds": 2}}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server_url}/threads/{thread_id}/runs/wait", json=body, headers={"x-api-key": API_KEY}, timeout=1)
    [run] = client.runs.list(thread_id)
    _wait_status(client, thread_id, run["run_id"], "interrupted", timeout=5)


def test_wait_sends_where_to_reconnect(server_url: str, client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    response = httpx.post(
        f"{server_url}/threads/{thread_id}/runs/wait",
        json={"assistant_id": "steps", "input": {"value": 1}},
        headers={"x-api-key": API_KEY},
    )
    [run] = client.runs.list(thread_id)
    assert response.headers["content-location"] == f"/threads/{thread_id}/runs/{run['run_id']}"
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run['run_id']}/join"


def test_background_run_is_joined_and_cancelled_from_another_replica(
    client: SyncLangGraphClient, second_replica: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "steps", input=SLOW, stream_mode="updates")
    parts = list(second_replica.runs.join_stream(thread_id, run["run_id"], stream_mode="updates"))
    assert [next(iter(p.data)) for p in parts if p.event == "updates"] == ["add_one", "double", "describe"]
    assert second_replica.runs.join(thread_id, run["run_id"])["value"] == 4
    slow = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 3})
    _wait_status(second_replica, thread_id, slow["run_id"], "running")
    started = time.monotonic()
    second_replica.runs.cancel(thread_id, slow["run_id"], wait=True)
    assert time.monotonic() - started < 3
    assert client.runs.get(thread_id, slow["run_id"])["status"] == "interrupted"


def test_sixteen_concurrent_clients_get_no_failures(server_url: str) -> None:
    failures: list[str] = []
    done = [0]

    def client_loop(n: int) -> None:
        with get_sync_client(url=server_url, api_key=API_KEY) as sdk:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                try:
                    thread_id = sdk.threads.create()["thread_id"]
                    assert sdk.runs.wait(thread_id, "steps", input={"value": n})["value"] == (n + 1) * 2
                    sdk.threads.get(thread_id)
                    done[0] += 1
                except Exception as error:  # every failure is collected and reported
                    failures.append(repr(error)[:200])

    workers = [threading.Thread(target=client_loop, args=(n,)) for n in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not failures, (len(failures), done[0], failures[:5])
    assert done[0] > 16


def test_double_resume_through_two_replicas_runs_once(
    client: SyncLangGraphClient, second_replica: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    document = {"title": "Plan", "document": "We ship in May. It replaces the legacy invoices."}
    client.runs.wait(thread_id, "review", input=document)
    outcomes: list[object] = []

    def resume(sdk: SyncLangGraphClient, approved: bool) -> None:
        try:
            outcomes.append(
                sdk.runs.wait(
                    thread_id, "review", command={"resume": {"approved": approved}}, multitask_strategy="reject"
                )
            )
        except httpx.HTTPStatusError as error:
            outcomes.append(error.response.status_code)

    workers = [threading.Thread(target=resume, args=(sdk, ok)) for sdk, ok in ((client, True), (second_replica, False))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(map(str, outcomes)).count("409") == 1, outcomes
    [result] = [o for o in outcomes if isinstance(o, dict)]
    history = client.threads.get_history(thread_id, limit=100)
    assert sum(1 for s in history if s["next"] == ["finalize"]) == 1
    assert client.threads.get_state(thread_id)["values"]["decision"] == result["decision"]


def test_on_disconnect_continue_finishes_the_run(server_url: str, client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    body = {"assistant_id": "steps", "input": {"value": 1, "sleep_seconds": 0.5}, "on_disconnect": "continue"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server_url}/threads/{thread_id}/runs/wait", json=body, headers={"x-api-key": API_KEY}, timeout=0.3
        )
    [run] = client.runs.list(thread_id)
    assert client.runs.join(thread_id, run["run_id"])["value"] == 4
    assert client.runs.get(thread_id, run["run_id"])["status"] == "success"


def test_threads_join_stream_follows_the_current_run(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    client.runs.create(thread_id, "steps", input=SLOW, stream_mode="updates")
    parts = list(client.threads.join_stream(thread_id, stream_mode="updates"))
    assert [next(iter(p.data)) for p in parts if p.event == "updates"] == ["add_one", "double", "describe"]


def test_durability_exit_writes_only_the_final_checkpoint(client: SyncLangGraphClient) -> None:
    stepwise, at_exit = client.threads.create()["thread_id"], client.threads.create()["thread_id"]
    client.runs.wait(stepwise, "steps", input={"value": 1}, durability="sync")
    client.runs.wait(at_exit, "steps", input={"value": 1}, durability="exit")
    assert len(client.threads.get_history(stepwise, limit=100)) > len(client.threads.get_history(at_exit, limit=100))
    assert client.threads.get_state(at_exit)["values"]["value"] == 4
