"""The same runs streamed by this server and by the official `langgraph dev` (langgraph-api 0.16.7, installed in
.venv-bench-official by `make bench`) give the same events: the same names in the same order, and payloads equal
field by field once ids, timestamps and each server's own config and metadata keys are left out. Skipped where the
official server is not installed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from bench import processes
from tests.app.graphs import talk
from tests.sdk.test_stream_modes import INPUT

MODES = ["values", "updates", "messages", "messages-tuple", "events", "debug", "custom", "tasks", "checkpoints"]
CASES = [
    *[("talk", mode, False) for mode in MODES],
    *[("talk_nested", mode, True) for mode in MODES],
    ("talk", ["messages", "updates", "custom"], False),
    ("talk", ["events", "messages"], False),
    ("talk_nested", "messages", False),
]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
# What each server adds of its own to a run's config and metadata (the official: its version, plan, host, URL,
# auth and request ids).
OWN_KEYS = {
    "created_by", "langgraph_api_url", "langgraph_api_version", "langgraph_host", "langgraph_plan",
    "langgraph_version", "run_attempt", "__after_seconds__", "__request_start_time_ms__", "langgraph_auth_permissions",
    "langgraph_auth_user", "langgraph_auth_user_id", "langgraph_request_id", "user_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def official() -> Iterator[SyncLangGraphClient]:
    if not processes.official_available():
        pytest.fail("the official server is not installed: `make test` installs it into .venv-bench-official")
    graphs = {"talk": f"{talk.__file__}:talk", "talk_nested": f"{talk.__file__}:nested"}
    server = processes.start_official_server(graphs)
    try:
        with get_sync_client(url=server.base_url) as client:
            yield client
    finally:
        server.stop()


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):  # an `id` may be null: in `events` payloads LangGraph fills it in at its own moment
        return {
            _normalized(key): "<id>" if key == "id" else _normalized(item)
            for key, item in value.items()
            if key not in OWN_KEYS
        }
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    if isinstance(value, str):
        return TIMESTAMP.sub("<time>", UUID.sub("<id>", value))
    return value


def _events(client: SyncLangGraphClient, graph: str, mode: Any, subgraphs: bool) -> list[Any]:
    thread_id = client.threads.create()["thread_id"]
    parts = client.runs.stream(thread_id, graph, input=INPUT, stream_mode=mode, stream_subgraphs=subgraphs)
    return _normalized([[part.event, part.data] for part in parts])


def _joined(client: SyncLangGraphClient) -> list[Any]:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(
        thread_id, "talk_nested", input=INPUT, stream_mode=["messages", "values", "updates"], stream_subgraphs=True
    )
    return _normalized([[part.event, part.data] for part in client.runs.join_stream(thread_id, run["run_id"])])


@pytest.mark.parametrize(("graph", "mode", "subgraphs"), CASES)
def test_events_match_the_official_server(
    client: SyncLangGraphClient, official: SyncLangGraphClient, graph: str, mode: Any, subgraphs: bool
) -> None:
    ours, theirs = _events(client, graph, mode, subgraphs), _events(official, graph, mode, subgraphs)
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert ours == theirs


def test_join_stream_of_a_background_run_matches_the_official_server(
    client: SyncLangGraphClient, official: SyncLangGraphClient
) -> None:
    assert _joined(client) == _joined(official)
