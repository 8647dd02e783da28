"""Thread operations and response shapes the official client reads, as LangGraph Platform answers them:
`threads.copy`, `threads.prune`, top-level checkpoint ids in a state, the thread's metadata in checkpoint
metadata, the `update_state` answer, history paging with `before={"configurable": ...}`."""

from __future__ import annotations

from langgraph_sdk.client import SyncLangGraphClient


def _thread_with_runs(client: SyncLangGraphClient, runs: int, **metadata: str) -> str:
    thread_id = client.threads.create(metadata=metadata)["thread_id"]
    for value in range(runs):
        client.runs.wait(thread_id, "steps", input={"value": value})
    return thread_id


def test_state_has_top_level_checkpoint_ids_and_the_threads_metadata(client: SyncLangGraphClient) -> None:
    thread_id = _thread_with_runs(client, 1, owner="ada")
    state = client.threads.get_state(thread_id)
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint_id"] == state["parent_checkpoint"]["checkpoint_id"]
    assert state["metadata"]["owner"] == "ada"
    assert all(s["metadata"]["owner"] == "ada" for s in client.threads.get_history(thread_id, limit=100))


def test_update_state_answers_the_official_shape(client: SyncLangGraphClient) -> None:
    thread_id = _thread_with_runs(client, 1)
    answer = client.threads.update_state(thread_id, {"value": 100})
    checkpoint_id = client.threads.get_state(thread_id)["checkpoint_id"]
    assert answer["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert answer["checkpoint_id"] == checkpoint_id
    assert answer["configurable"] == answer["checkpoint"]


def test_history_pages_with_a_before_config(client: SyncLangGraphClient) -> None:
    thread_id = _thread_with_runs(client, 2)
    everything = client.threads.get_history(thread_id, limit=100)
    first_page = client.threads.get_history(thread_id, limit=3)
    before = {"configurable": {"checkpoint_id": first_page[-1]["checkpoint"]["checkpoint_id"]}}
    second_page = client.threads.get_history(thread_id, limit=3, before=before)
    assert [s["checkpoint_id"] for s in first_page + second_page] == [s["checkpoint_id"] for s in everything[:6]]


def test_copy_makes_an_independent_thread_with_the_same_history(client: SyncLangGraphClient) -> None:
    source = _thread_with_runs(client, 1, owner="ada")
    copied = client.threads.copy(source)
    assert copied["thread_id"] != source and copied["metadata"]["owner"] == "ada"
    assert client.threads.get_state(copied["thread_id"])["values"] == client.threads.get_state(source)["values"]
    assert len(client.threads.get_history(copied["thread_id"], limit=100)) == len(
        client.threads.get_history(source, limit=100)
    )
    result = client.runs.wait(copied["thread_id"], "steps", input={"value": 1})
    assert result["value"] == 4
    assert client.threads.get_state(source)["values"]["value"] == 2, "running the copy changed the source"


def test_prune_deletes_threads_or_keeps_their_latest_state(client: SyncLangGraphClient) -> None:
    doomed, kept = _thread_with_runs(client, 1), _thread_with_runs(client, 2)
    assert client.threads.prune([doomed])["pruned_count"] == 1
    assert doomed not in {t["thread_id"] for t in client.threads.search(ids=[doomed])}
    latest = client.threads.get_state(kept)
    assert client.threads.prune([kept], strategy="keep_latest")["pruned_count"] == 1
    assert client.threads.get_state(kept)["values"] == latest["values"]
    assert len(client.threads.get_history(kept, limit=100)) == 1


def test_a_state_update_leaves_the_threads_status_as_it_was(client: SyncLangGraphClient) -> None:
    paused = client.threads.create()["thread_id"]
    client.runs.wait(paused, "steps", input={"value": 1}, interrupt_before=["double"])
    client.threads.update_state(paused, {"value": 5})
    assert client.threads.get(paused)["status"] == "interrupted", "still stopped at its breakpoint"
    done = _thread_with_runs(client, 1)
    client.threads.update_state(done, {"value": 5}, as_node="add_one")  # `double` is next, but no run is paused
    assert client.threads.get(done)["status"] == "idle"
    assert client.threads.get(client.threads.copy(paused)["thread_id"])["status"] == "interrupted"


def test_a_runs_thread_names_its_assistant_by_uuid_as_officially(client: SyncLangGraphClient) -> None:
    default = client.assistants.get("steps")["assistant_id"]
    custom = client.assistants.create("steps", config={"configurable": {}}, name="custom")["assistant_id"]
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, "steps", input={"value": 1})
    assert client.threads.get(thread_id)["metadata"] == {"graph_id": "steps", "assistant_id": default}
    client.runs.wait(thread_id, custom, input={"value": 1})
    assert client.threads.get(thread_id)["metadata"]["assistant_id"] == custom
    assert [t["thread_id"] for t in client.threads.search(metadata={"assistant_id": custom})] == [thread_id]
    stateless = client.runs.create(None, "steps", input={"value": 1})
    assert client.threads.get(stateless["thread_id"])["metadata"]["assistant_id"] == default
