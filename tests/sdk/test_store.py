"""The long-term memory store through the official client: items, search, namespaces, TTL, and a graph that
remembers a user across two of the user's threads."""

from __future__ import annotations

import time
import uuid

import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_put_get_delete_an_item(client: SyncLangGraphClient) -> None:
    user = _user()
    client.store.put_item(["profiles", user], key="prefs", value={"theme": "dark"})
    item = client.store.get_item(["profiles", user], key="prefs")
    assert (item["namespace"], item["key"], item["value"]) == (["profiles", user], "prefs", {"theme": "dark"})
    assert item["created_at"] and item["updated_at"]
    client.store.put_item(["profiles", user], key="prefs", value={"theme": "light"})
    assert client.store.get_item(["profiles", user], key="prefs")["value"] == {"theme": "light"}
    client.store.delete_item(["profiles", user], key="prefs")
    assert client.store.get_item(["profiles", user], key="prefs") is None


def test_search_filters_and_pages(client: SyncLangGraphClient) -> None:
    user = _user()
    for n in range(5):
        client.store.put_item(["notes", user, "work" if n % 2 else "home"], key=f"n{n}", value={"n": n, "odd": n % 2})
    found = client.store.search_items(["notes", user], limit=10)["items"]
    assert sorted(item["key"] for item in found) == ["n0", "n1", "n2", "n3", "n4"]
    odd = client.store.search_items(["notes", user], filter={"odd": 1})["items"]
    assert sorted(item["key"] for item in odd) == ["n1", "n3"]
    first = client.store.search_items(["notes", user], limit=2, offset=0)["items"]
    rest = client.store.search_items(["notes", user], limit=10, offset=2)["items"]
    assert len(first) == 2 and len(rest) == 3
    assert {i["key"] for i in first} | {i["key"] for i in rest} == {"n0", "n1", "n2", "n3", "n4"}
    assert client.store.search_items(["notes", user, "work"])["items"][0]["namespace"] == ["notes", user, "work"]


def test_semantic_search_without_embeddings_is_a_clear_422(client: SyncLangGraphClient) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        client.store.search_items(["notes"], query="what does the user like?")
    assert "embeddings" in raised.value.message


def test_list_namespaces(client: SyncLangGraphClient) -> None:
    user = _user()
    client.store.put_item(["tree", user, "a", "x"], key="k", value={})
    client.store.put_item(["tree", user, "b"], key="k", value={})
    listed = client.store.list_namespaces(prefix=["tree", user])["namespaces"]
    assert sorted(listed) == [["tree", user, "a", "x"], ["tree", user, "b"]]
    shallow = client.store.list_namespaces(prefix=["tree", user], max_depth=3)["namespaces"]
    assert sorted(shallow) == [["tree", user, "a"], ["tree", user, "b"]]
    assert client.store.list_namespaces(prefix=["tree", user], suffix=["b"])["namespaces"] == [["tree", user, "b"]]


def test_an_expired_item_is_gone(client: SyncLangGraphClient) -> None:
    user = _user()
    client.store.put_item(["ttl", user], key="brief", value={"v": 1}, ttl=0.01)  # minutes: 0.6 s
    client.store.put_item(["ttl", user], key="lasting", value={"v": 2}, ttl=60)
    assert client.store.get_item(["ttl", user], key="brief", refresh_ttl=False)["value"] == {"v": 1}
    deadline = time.monotonic() + 5
    while client.store.get_item(["ttl", user], key="brief", refresh_ttl=False) is not None:
        assert time.monotonic() < deadline, "an item past its ttl is still returned"
        time.sleep(0.2)
    assert [i["key"] for i in client.store.search_items(["ttl", user])["items"]] == ["lasting"]


def test_a_graph_remembers_a_user_across_threads(client: SyncLangGraphClient) -> None:
    user = _user()
    first, second = client.threads.create(), client.threads.create()
    context = {"user_id": user}
    told = client.runs.wait(first["thread_id"], "memory", input={"fact": "likes tea"}, context=context)
    assert told["known"] == ["likes tea"]
    asked = client.runs.wait(second["thread_id"], "memory", input={}, context=context)
    assert asked["known"] == ["likes tea"], "the second thread does not see what the first one stored"
    stranger = client.runs.wait(second["thread_id"], "memory", input={}, context={"user_id": _user()})
    assert stranger["known"] == []
    stored = client.store.search_items(["memories", user])["items"]
    assert [item["value"] for item in stored] == [{"fact": "likes tea"}]
