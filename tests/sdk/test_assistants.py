"""Assistants as records through the official client: default assistants with LangGraph Platform's ids,
create/update/versions/set_latest/delete, search and count, graph/schemas/subgraphs, runs with an assistant's
context, and the official answers for an unknown assistant."""

from __future__ import annotations

import uuid

import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.app.conftest import TEST_GRAPHS

# `uuid5(NAMESPACE_GRAPH, graph_id)` with langgraph-api's NAMESPACE_GRAPH, written out so a change shows here.
OFFICIAL_STEPS_ID = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "steps"))


def test_each_graph_has_a_default_assistant_with_the_official_id(client: SyncLangGraphClient) -> None:
    defaults = client.assistants.search(metadata={"created_by": "system"}, limit=100)
    by_graph = {a["graph_id"]: a for a in defaults}
    assert set(by_graph) == TEST_GRAPHS
    steps = by_graph["steps"]
    assert steps["assistant_id"] == OFFICIAL_STEPS_ID
    assert (steps["name"], steps["version"], steps["config"], steps["context"]) == ("steps", 1, {}, {})
    assert client.assistants.get("steps") == client.assistants.get(OFFICIAL_STEPS_ID)
    assert client.assistants.count(graph_id="steps") >= 1
    with pytest.raises(ConflictError) as raised:
        client.assistants.delete("steps")
    assert "langgraph.json" in raised.value.message
    assert client.assistants.get("steps")["assistant_id"] == OFFICIAL_STEPS_ID


def test_create_update_versions_latest_delete(client: SyncLangGraphClient) -> None:
    created = client.assistants.create(
        "memory", config={"tags": ["a"]}, context={"user_id": "v1"}, metadata={"team": "x"}, name="helper"
    )
    assistant_id = created["assistant_id"]
    assert uuid.UUID(assistant_id)
    assert (created["graph_id"], created["name"], created["version"]) == ("memory", "helper", 1)
    assert (created["context"], created["metadata"]) == ({"user_id": "v1"}, {"team": "x"})

    updated = client.assistants.update(assistant_id, context={"user_id": "v2"}, metadata={"stage": "beta"})
    assert updated["version"] == 2
    assert updated["context"] == {"user_id": "v2"}
    assert updated["config"] == {"tags": ["a"]}
    assert updated["metadata"] == {"team": "x", "stage": "beta"}

    versions = client.assistants.get_versions(assistant_id)
    assert [v["version"] for v in versions] == [2, 1]
    assert [v["context"] for v in versions] == [{"user_id": "v2"}, {"user_id": "v1"}]
    assert [v["version"] for v in client.assistants.get_versions(assistant_id, metadata={"stage": "beta"})] == [2]

    back = client.assistants.set_latest(assistant_id, 1)
    assert (back["version"], back["context"]) == (1, {"user_id": "v1"})
    assert client.assistants.get(assistant_id)["context"] == {"user_id": "v1"}
    with pytest.raises(NotFoundError):
        client.assistants.set_latest(assistant_id, 9)

    found = client.assistants.search(graph_id="memory", metadata={"team": "x"})
    assert [a["assistant_id"] for a in found] == [assistant_id]

    with pytest.raises(ConflictError):
        client.assistants.create("memory", assistant_id=assistant_id)
    same = client.assistants.create("memory", assistant_id=assistant_id, if_exists="do_nothing")
    assert same["assistant_id"] == assistant_id

    client.assistants.delete(assistant_id)
    with pytest.raises(NotFoundError):
        client.assistants.get(assistant_id)


def test_a_run_uses_its_assistants_context(client: SyncLangGraphClient) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    assistant = client.assistants.create("memory", context={"user_id": user})
    thread = client.threads.create()
    result = client.runs.wait(thread["thread_id"], assistant["assistant_id"], input={"fact": "reads maps"})
    assert result["known"] == ["reads maps"]
    assert client.store.search_items(["memories", user])["items"][0]["value"] == {"fact": "reads maps"}
    run = client.runs.list(thread["thread_id"])[0]
    assert run["assistant_id"] == assistant["assistant_id"]


def test_graph_schemas_and_subgraphs(client: SyncLangGraphClient) -> None:
    flat = client.assistants.get_graph("nested")
    deep = client.assistants.get_graph("nested", xray=True)
    assert "inner:increment" not in {n["id"] for n in flat["nodes"]}
    assert "inner:increment" in {n["id"] for n in deep["nodes"]}
    subgraphs = client.assistants.get_subgraphs("nested")
    assert set(subgraphs) == {"inner"}
    assert "count" in subgraphs["inner"]["state_schema"]["properties"]
    assert client.assistants.get_subgraphs("steps") == {}
    assert client.assistants.get_schemas("memory")["context_schema"]["properties"].keys() == {"user_id"}


def test_an_unknown_assistant_gets_the_official_answers(client: SyncLangGraphClient) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.assistants.get("no-such-graph")
    assert "no-such-graph" in raised.value.message and "steps" in raised.value.message
    with pytest.raises(NotFoundError):
        client.assistants.get(str(uuid.uuid4()))
    with pytest.raises(NotFoundError) as raised:
        client.assistants.create("no-such-graph")
    assert "no-such-graph" in raised.value.message
