"""The long-term memory store through the official client: items, search, namespaces, TTL, and a graph that
remembers a user across two of the user's threads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

from app.contract import Env
from tests.app.conftest import GRAPHS_WITH_A_STORE_INDEX
from tests.sdk.conftest import API_KEY, start_server
from tests.sdk.semantic import check_semantic_search


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
    assert "embeddings" in raised.value.message and "store.index" in raised.value.message
    with pytest.raises(UnprocessableEntityError) as raised:
        client.store.put_item(["notes"], key="k", value={"text": "tea"}, index=["text"])
    assert "store.index" in raised.value.message


@pytest.fixture(scope="module")
def semantic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncLangGraphClient]:
    """A client of a server on the embedded SQLite store whose langgraph.json configures `store.index` (the
    offline test embeddings of tests/app/graphs/embed.py, the `text` field)."""
    env = {
        Env.API_KEYS: API_KEY,
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX),
        Env.DATA_DIR: str(tmp_path_factory.mktemp("vectors")),
    }
    server = start_server(env, tmp_path_factory.mktemp("vectors-server"))
    try:
        with get_sync_client(url=server.url, api_key=API_KEY) as sdk:
            yield sdk
    finally:
        server.stop()


def test_semantic_search_ranks_the_closest_first(semantic: SyncLangGraphClient) -> None:
    check_semantic_search(semantic)


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
