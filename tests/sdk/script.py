"""A fixed script of official-client calls whose responses are compared between the official server and ours.

`drive(client)` makes every call in order on a fresh server serving tests/app/graphs/langgraph.json and returns
`{step name: response}`; a call the server refuses is recorded as `{"status": <code>, "body": <JSON body>}`.
`python -m tests.sdk.record` runs it against `langgraph dev`; tests/sdk/test_official_shapes.py against ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from langgraph_sdk.client import SyncLangGraphClient

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
STREAM_MODES = ("values", "updates", "debug", "tasks", "checkpoints", "custom")
REVIEW_INPUT = {"title": "Plan", "document": "A short plan. TODO: finish it."}


def _parts(parts: Iterator[Any]) -> list[dict[str, Any]]:
    return [{"event": part.event, "data": part.data} for part in parts]


class Steps:
    """The responses, by step name, in the order the steps ran."""

    def __init__(self) -> None:
        self.responses: dict[str, Any] = {}

    def __call__(self, name: str, call: Callable[[], Any]) -> Any:
        try:
            response = call()
        except httpx.HTTPStatusError as error:  # the client's own errors, or httpx's where it reconnects
            response = {"status": error.response.status_code, "body": error.response.json()}
        self.responses[name] = response
        return response


def drive(client: SyncLangGraphClient) -> dict[str, Any]:
    """Every step of the script on `client`."""
    step = Steps()
    _assistants(client, step)
    _threads(client, step)
    _runs(client, step)
    _store(client, step)
    _errors(client, step)
    return step.responses


def _assistants(client: SyncLangGraphClient, step: Steps) -> None:
    default = step("assistants.search graph_id", lambda: client.assistants.search(graph_id="steps", limit=1))[0]
    step("assistants.get", lambda: client.assistants.get(default["assistant_id"]))
    created = step(
        "assistants.create",
        lambda: client.assistants.create(
            "steps", config={"tags": ["a"]}, context={}, metadata={"script": "shapes"}, name="shapes"
        ),
    )
    step("assistants.update", lambda: client.assistants.update(created["assistant_id"], metadata={"v": 2}))
    step("assistants.get_versions", lambda: client.assistants.get_versions(created["assistant_id"]))
    step("assistants.set_latest", lambda: client.assistants.set_latest(created["assistant_id"], 1))
    step("assistants.search metadata", lambda: client.assistants.search(metadata={"script": "shapes"}))
    step("assistants.count", lambda: client.assistants.count(graph_id="steps"))
    step("assistants.get_graph", lambda: client.assistants.get_graph(default["assistant_id"]))
    step("assistants.get_graph xray", lambda: client.assistants.get_graph(default["assistant_id"], xray=True))
    step("assistants.get_schemas", lambda: client.assistants.get_schemas(default["assistant_id"]))
    nested = client.assistants.search(graph_id="nested", limit=1)[0]["assistant_id"]
    step("assistants.get_subgraphs", lambda: client.assistants.get_subgraphs(nested, recurse=True))


def _threads(client: SyncLangGraphClient, step: Steps) -> None:
    thread = step("threads.create", lambda: client.threads.create(metadata={"script": "shapes"}))
    thread_id = thread["thread_id"]
    step("threads.get new", lambda: client.threads.get(thread_id))
    step("threads.get_state new", lambda: client.threads.get_state(thread_id))
    step("runs.wait steps", lambda: client.runs.wait(thread_id, "steps", input={"value": 1}))
    step("threads.get", lambda: client.threads.get(thread_id))
    step("threads.update", lambda: client.threads.update(thread_id, metadata={"more": 1}))
    step("threads.search", lambda: client.threads.search(metadata={"script": "shapes"}, limit=1))
    step("threads.count", lambda: client.threads.count(metadata={"script": "shapes"}))
    step("threads.get_state", lambda: client.threads.get_state(thread_id))
    step("threads.get_history", lambda: client.threads.get_history(thread_id, limit=2))
    history = client.threads.get_history(thread_id, limit=2)
    step("threads.get_state at", lambda: client.threads.get_state(thread_id, checkpoint_id=history[1]["checkpoint_id"]))
    before = {"configurable": {"checkpoint_id": history[0]["checkpoint_id"]}}
    step("threads.get_history before", lambda: client.threads.get_history(thread_id, limit=1, before=before))
    step("threads.update_state", lambda: client.threads.update_state(thread_id, {"value": 10}))
    step("threads.update_state as_node", lambda: client.threads.update_state(thread_id, {"value": 3}, as_node="double"))
    copied = step("threads.copy", lambda: client.threads.copy(thread_id))
    step("threads.get_state copy", lambda: client.threads.get_state(copied["thread_id"]))
    step("threads.prune", lambda: client.threads.prune([copied["thread_id"]]))

    review = client.threads.create()["thread_id"]
    step("runs.wait interrupted", lambda: client.runs.wait(review, "review", input=REVIEW_INPUT))
    step("threads.get interrupted", lambda: client.threads.get(review))
    step("threads.get_state interrupted", lambda: client.threads.get_state(review))
    step("threads.get_history interrupted", lambda: client.threads.get_history(review, limit=1))
    resume = {"resume": {"approved": True, "comment": "ok"}}
    step("runs.wait resume", lambda: client.runs.wait(review, "review", command=resume))
    step("threads.get_state resumed", lambda: client.threads.get_state(review))


def _wait_until_done(client: SyncLangGraphClient, thread_id: str, run_id: str) -> None:
    for _ in range(200):
        if client.runs.get(thread_id, run_id)["status"] not in ("pending", "running"):
            return
        time.sleep(0.05)


def _runs(client: SyncLangGraphClient, step: Steps) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = step("runs.create", lambda: client.runs.create(thread_id, "steps", input={"value": 2}))
    step("runs.join", lambda: client.runs.join(thread_id, run["run_id"]))
    step("runs.get", lambda: client.runs.get(thread_id, run["run_id"]))
    step("runs.list", lambda: client.runs.list(thread_id, limit=1))
    step("runs.join_stream", lambda: _parts(client.runs.join_stream(thread_id, run["run_id"])))
    for mode in STREAM_MODES:
        step(
            f"runs.stream {mode}",
            lambda mode=mode: _parts(client.runs.stream(thread_id, "steps", input={"value": 1}, stream_mode=mode)),
        )
    step(
        "runs.stream values+updates",
        lambda: _parts(client.runs.stream(thread_id, "steps", input={"value": 1}, stream_mode=["values", "updates"])),
    )
    talk = {"messages": [{"role": "user", "content": "hi"}]}
    for mode in ("custom", "messages-tuple", "messages"):
        talk_thread = client.threads.create()["thread_id"]
        step(
            f"runs.stream {mode} talk",
            lambda mode=mode, t=talk_thread: _parts(client.runs.stream(t, "talk", input=talk, stream_mode=mode)),
        )
    step("runs.wait talk", lambda: client.runs.wait(None, "talk", input=talk))
    step(
        "runs.stream stateless",
        lambda: _parts(client.runs.stream(None, "steps", input={"value": 1}, stream_mode="values")),
    )
    step("runs.create_batch", lambda: client.runs.create_batch([{"assistant_id": "steps", "input": {"value": 1}}]))
    queued = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 2})
    step("runs.cancel_many", lambda: client.runs.cancel_many(thread_id=thread_id, run_ids=[queued["run_id"]]))
    _wait_until_done(client, thread_id, queued["run_id"])
    slow = client.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": 2})
    step("runs.cancel", lambda: client.runs.cancel(thread_id, slow["run_id"], wait=True))
    _wait_until_done(client, thread_id, slow["run_id"])
    step("runs.get cancelled", lambda: client.runs.get(thread_id, slow["run_id"]))
    failing = {"assistant_id": "fails", "input": {"value": 1}}  # the client raises on this answer: read it raw
    fails_thread = client.threads.create()["thread_id"]
    step("runs.wait fails", lambda: client.http.post(f"/threads/{fails_thread}/runs/wait", json=failing))

    steps = client.assistants.search(graph_id="steps", metadata={"created_by": "system"})[0]["assistant_id"]
    cron = step("crons.create", lambda: client.crons.create(steps, schedule="0 0 1 1 *", input={"value": 1}))
    step("crons.search", lambda: client.crons.search(assistant_id=steps))
    step("crons.count", lambda: client.crons.count(assistant_id=steps))
    if isinstance(cron, dict) and "cron_id" in cron:
        step("crons.update", lambda: client.crons.update(cron["cron_id"], schedule="0 0 2 1 *"))


def _store(client: SyncLangGraphClient, step: Steps) -> None:
    step("store.put_item", lambda: client.store.put_item(["shapes", "a"], "k", {"n": 1}))
    step("store.get_item", lambda: client.store.get_item(["shapes", "a"], "k"))
    step("store.get_item missing", lambda: client.store.get_item(["shapes", "a"], "missing"))
    step("store.search_items", lambda: client.store.search_items(["shapes"], filter={"n": 1}))
    step("store.list_namespaces", lambda: client.store.list_namespaces(prefix=["shapes"]))
    step("store.delete_item", lambda: client.store.delete_item(["shapes", "a"], "k"))


def _errors(client: SyncLangGraphClient, step: Steps) -> None:
    step("error assistants.get unknown", lambda: client.assistants.get(UNKNOWN_ID))
    step("error threads.get unknown", lambda: client.threads.get(UNKNOWN_ID))
    step("error threads.get_state unknown", lambda: client.threads.get_state(UNKNOWN_ID))
    step("error runs.wait unknown assistant", lambda: client.runs.wait(None, UNKNOWN_ID, input={}))
    step("error runs.get unknown", lambda: client.runs.get(UNKNOWN_ID, UNKNOWN_ID))
    thread_id = client.threads.create()["thread_id"]
    step("error threads.create exists", lambda: client.threads.create(thread_id=thread_id, if_exists="raise"))
    step("error threads.search bad limit", lambda: client.http.post("/threads/search", json={"limit": "many"}))
    step("error runs.create bad body", lambda: client.http.post(f"/threads/{thread_id}/runs", json={"input": 1}))
