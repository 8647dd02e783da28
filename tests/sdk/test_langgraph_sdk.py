"""The official `langgraph-sdk` client, unchanged, against this server (real process, real PostgreSQL).

Graphs: `steps` (add one, double, describe; `sleep_seconds` holds a run in flight) and `review`
(pauses in `human_approval` with `interrupt()`).
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import AuthenticationError, ConflictError, NotFoundError, UnprocessableEntityError

from tests.app.conftest import TEST_GRAPHS
from tests.sdk.conftest import API_KEY

DOCUMENT = {
    "title": "Quarterly plan",
    "document": "We ship the new billing flow in May. It replaces the legacy invoices and needs a "
    "migration of every customer account, planned over two weekends with a rollback path.",
}


def test_assistants_are_the_registered_graphs(client: SyncLangGraphClient) -> None:
    assistants = client.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert {a["graph_id"] for a in assistants} == TEST_GRAPHS
    steps = client.assistants.get("steps")
    assert (steps["graph_id"], steps["version"], steps["metadata"]) == ("steps", 1, {"created_by": "system"})
    graph = client.assistants.get_graph("steps")
    assert {n["id"] for n in graph["nodes"]} >= {"add_one", "double", "describe"}
    assert {"source": "add_one", "target": "double"} in [
        {"source": e["source"], "target": e["target"]} for e in graph["edges"]
    ]
    schemas = client.assistants.get_schemas("review")
    assert schemas["graph_id"] == "review"
    assert set(schemas) >= {"input_schema", "output_schema", "state_schema", "context_schema"}
    assert "document" in schemas["state_schema"]["properties"]


def test_unknown_assistant_is_the_clients_unprocessable_error(client: SyncLangGraphClient) -> None:
    """An id that is neither a UUID nor a graph name is a 422, as on LangGraph Platform (a UUID: 404)."""
    with pytest.raises(UnprocessableEntityError) as raised:
        client.assistants.get("no-such-graph")
    assert "no-such-graph" in raised.value.message
    thread = client.threads.create()
    with pytest.raises(UnprocessableEntityError):
        list(client.runs.stream(thread["thread_id"], "no-such-graph", input={}))
    # `runs.wait` raises httpx's HTTPStatusError (the client's reconnecting request path).
    with pytest.raises(httpx.HTTPStatusError) as raised:
        client.runs.wait(thread["thread_id"], "no-such-graph", input={})
    assert raised.value.response.status_code == 422
    with pytest.raises(httpx.HTTPStatusError) as raised:
        client.runs.wait(thread["thread_id"], str(uuid.uuid4()), input={})
    assert raised.value.response.status_code == 404


def test_create_thread_then_wait_for_a_run(client: SyncLangGraphClient) -> None:
    thread = client.threads.create(metadata={"user": "ada"})
    assert thread["status"] == "idle"
    assert thread["metadata"] == {"user": "ada"}
    created: list[dict] = []
    result = client.runs.wait(
        thread["thread_id"], "steps", input={"value": 4}, on_run_created=lambda meta: created.append(dict(meta))
    )
    assert result["value"] == 10
    assert result["description"] == "result is 10"
    assert result["trail"] == ["add_one", "double", "describe"]
    assert created and created[0]["thread_id"] == thread["thread_id"]
    after = client.threads.get(thread["thread_id"])
    assert after["status"] == "idle"
    assert after["values"]["value"] == 10
    assert after["metadata"]["graph_id"] == "steps"


def test_stateless_wait(client: SyncLangGraphClient) -> None:
    assert client.runs.wait(None, "steps", input={"value": 1})["value"] == 4


def test_stream_updates(client: SyncLangGraphClient) -> None:
    thread = client.threads.create()
    parts = list(client.runs.stream(thread["thread_id"], "steps", input={"value": 1}, stream_mode="updates"))
    assert parts[0].event == "metadata"
    assert uuid.UUID(parts[0].data["run_id"])
    updates = [p.data for p in parts if p.event == "updates"]
    assert updates == [
        {"add_one": {"value": 2, "trail": ["add_one"]}},
        {"double": {"value": 4, "trail": ["double"]}},
        {"describe": {"description": "result is 4", "trail": ["describe"]}},
    ]
    assert not [p for p in parts if p.event == "error"]


def test_stream_values_and_several_modes(client: SyncLangGraphClient) -> None:
    thread = client.threads.create()
    values = [
        p.data
        for p in client.runs.stream(thread["thread_id"], "steps", input={"value": 2}, stream_mode="values")
        if p.event == "values"
    ]
    assert values[0]["value"] == 2
    assert values[-1]["value"] == 6 and values[-1]["description"] == "result is 6"
    events = {
        p.event
        for p in client.runs.stream(None, "steps", input={"value": 0}, stream_mode=["values", "updates", "debug"])
    }
    assert events == {"metadata", "values", "updates", "debug"}


def test_stream_events_mode(client: SyncLangGraphClient) -> None:
    parts = list(client.runs.stream(None, "steps", input={"value": 0}, stream_mode="events"))
    kinds = {p.data["event"] for p in parts if p.event == "events"}
    assert {"on_chain_start", "on_chain_end"} <= kinds


def test_review_pauses_then_resumes(client: SyncLangGraphClient) -> None:
    thread = client.threads.create()
    thread_id = thread["thread_id"]
    paused = client.runs.wait(thread_id, "review", input=DOCUMENT)
    assert paused["__interrupt__"][0]["value"]["question"] == "Approve this document?"

    assert client.threads.get(thread_id)["status"] == "interrupted"
    state = client.threads.get_state(thread_id)
    assert state["next"] == ["human_approval"]
    interrupt = state["tasks"][0]["interrupts"][0]
    assert interrupt["value"]["title"] == "Quarterly plan"
    assert state["interrupts"][0]["id"] == interrupt["id"]

    done = client.runs.wait(thread_id, "review", command={"resume": {"approved": True, "comment": "ship it"}})
    assert done["decision"] == "approved"
    assert done["reviewer_comment"] == "ship it"
    assert "__interrupt__" not in done
    assert client.threads.get(thread_id)["status"] == "idle"
    assert client.threads.get_state(thread_id)["next"] == []


def test_update_state_shows_in_history(client: SyncLangGraphClient) -> None:
    thread = client.threads.create()
    thread_id = thread["thread_id"]
    client.runs.wait(thread_id, "steps", input={"value": 1})
    update = client.threads.update_state(thread_id, {"description": "edited by hand"}, as_node="describe")
    checkpoint_id = update["checkpoint"]["checkpoint_id"]
    history = client.threads.get_history(thread_id, limit=3)
    assert history[0]["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert history[0]["values"]["description"] == "edited by hand"
    assert history[0]["metadata"]["source"] == "update"
    assert history[1]["values"]["description"] == "result is 4"
    assert client.threads.get_state(thread_id)["values"]["description"] == "edited by hand"
    assert client.threads.get_state(thread_id, checkpoint_id=checkpoint_id)["values"]["value"] == 4
    older = client.threads.get_history(thread_id, before=checkpoint_id, limit=10)
    assert checkpoint_id not in [s["checkpoint"]["checkpoint_id"] for s in older]
    assert client.threads.get(thread_id)["values"]["description"] == "edited by hand"


def test_search_by_metadata_and_patch(client: SyncLangGraphClient) -> None:
    tag = uuid.uuid4().hex
    first = client.threads.create(metadata={"tag": tag, "user": "ada"})
    second = client.threads.create(metadata={"tag": tag, "user": "bob"})
    client.threads.create(metadata={"tag": "other"})
    found = client.threads.search(metadata={"tag": tag})
    assert {t["thread_id"] for t in found} == {first["thread_id"], second["thread_id"]}
    assert [t["thread_id"] for t in client.threads.search(metadata={"tag": tag, "user": "bob"})] == [
        second["thread_id"]
    ]
    assert len(client.threads.search(metadata={"tag": tag}, limit=1)) == 1
    assert len(client.threads.search(metadata={"tag": tag}, limit=1, offset=1)) == 1
    client.threads.update(first["thread_id"], metadata={"user": "eve"})
    assert client.threads.get(first["thread_id"])["metadata"] == {"tag": tag, "user": "eve"}
    assert client.threads.search(metadata={"tag": tag, "user": "eve"})[0]["thread_id"] == first["thread_id"]


def test_create_with_id_and_if_exists(client: SyncLangGraphClient) -> None:
    thread_id = f"custom-{uuid.uuid4().hex}"
    assert client.threads.create(thread_id=thread_id)["thread_id"] == thread_id
    with pytest.raises(ConflictError):
        client.threads.create(thread_id=thread_id)
    assert client.threads.create(thread_id=thread_id, if_exists="do_nothing")["thread_id"] == thread_id


def test_if_not_exists_create(client: SyncLangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        list(client.runs.stream(thread_id, "steps", input={"value": 1}))
    assert client.runs.wait(thread_id, "steps", input={"value": 1}, if_not_exists="create")["value"] == 4
    assert client.threads.get(thread_id)["status"] == "idle"


def test_delete_thread_removes_it_and_its_checkpoints(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, "steps", input={"value": 1})
    client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        client.threads.get(thread_id)
    client.threads.create(thread_id=thread_id, graph_id="steps")
    assert client.threads.get_state(thread_id)["values"] == {}
    assert client.threads.get_history(thread_id) == []


def test_second_run_on_a_busy_thread_is_rejected(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    first = client.runs.stream(thread_id, "steps", input={"value": 1, "sleep_seconds": 1}, stream_mode="updates")
    assert next(first).event == "metadata"
    assert client.threads.get(thread_id)["status"] == "busy"
    with pytest.raises(ConflictError) as raised:
        list(client.runs.stream(thread_id, "steps", input={"value": 1}, multitask_strategy="reject"))
    assert "busy" in raised.value.message
    with pytest.raises(httpx.HTTPStatusError) as waited:
        client.runs.wait(thread_id, "steps", input={"value": 1}, multitask_strategy="reject")
    assert waited.value.response.status_code == 409
    with pytest.raises(ConflictError):
        client.threads.delete(thread_id)
    rest = list(first)
    assert [p.data for p in rest if p.event == "updates"][-1]["describe"]["description"] == "result is 4"
    assert client.threads.get(thread_id)["status"] == "idle"


def test_a_failing_run_marks_the_thread_error(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(thread_id, "fails", input={"value": 1}, stream_mode="updates"))
    errors = [p.data for p in parts if p.event == "error"]
    assert errors and errors[0]["error"] and errors[0]["message"]
    assert client.threads.get(thread_id)["status"] == "error"
    with pytest.raises(Exception, match=errors[0]["error"]):
        client.runs.wait(thread_id, "fails", input={"value": 2})


def test_input_that_does_not_fit_the_graph_is_refused_before_the_run(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    with pytest.raises(UnprocessableEntityError) as raised:
        list(client.runs.stream(thread_id, "steps", input={"value": "not a number"}))
    assert "input.value" in raised.value.message and "integer" in raised.value.message
    assert client.threads.get(thread_id)["status"] == "idle"  # no run was started


def test_unsupported_options_are_named(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    with pytest.raises(UnprocessableEntityError) as raised:
        list(client.runs.stream(thread_id, "steps", input={"value": 1}, webhook="http://127.0.0.1:9/hook"))
    assert "webhook" in raised.value.message


def test_api_key_is_required(server_url: str) -> None:
    with get_sync_client(url=server_url, api_key="wrong") as sdk, pytest.raises(AuthenticationError):
        sdk.threads.search()


def test_async_client_stream_reports_the_run_it_created(server_url: str) -> None:
    async def stream() -> tuple[list[dict], list]:
        created: list[dict] = []
        async with get_client(url=server_url, api_key=API_KEY) as sdk:
            thread = await sdk.threads.create()
            parts = [
                part
                async for part in sdk.runs.stream(
                    thread["thread_id"], "steps", input={"value": 1}, on_run_created=created.append
                )
            ]
        return created, parts

    created, parts = asyncio.run(stream())
    assert parts[0].event == "metadata"
    assert created[0]["run_id"] == parts[0].data["run_id"]
    assert parts[-1].event == "values" and parts[-1].data["value"] == 4


def test_busy_thread_is_rejected_by_another_server_on_the_same_database(
    client: SyncLangGraphClient, second_replica: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]
    first = client.runs.stream(thread_id, "steps", input={"value": 1, "sleep_seconds": 1}, stream_mode="updates")
    assert next(first).event == "metadata"
    with pytest.raises(ConflictError):
        list(second_replica.runs.stream(thread_id, "steps", input={"value": 1}, multitask_strategy="reject"))
    list(first)
    assert second_replica.runs.wait(thread_id, "steps", input={"value": 2})["value"] == 6
