"""Every stream mode of the LangGraph Server API through the official `langgraph-sdk` client, on PostgreSQL and on
SQLite: event names, order and payload shapes as `langgraph dev` (langgraph-api 0.16.7) sends them for the same
graphs (`talk` and `talk_nested` in tests/app/graphs/talk.py; ids and timestamps aside)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langgraph_sdk.client import SyncLangGraphClient

from tests.app.graphs.talk import ANSWER, SIGNATURE

INPUT = {"messages": [{"role": "user", "content": "hi", "id": "human-1"}]}
TOKENS = len(re.split(r"(\s)", ANSWER))  # the fake model streams words and spaces as separate chunks
PARTIALS = ["messages/partial"] * TOKENS
MESSAGES_EVENTS = ["messages/metadata", *PARTIALS, "messages/metadata", "messages/complete"]
MESSAGE_FIELDS = {
    "content", "additional_kwargs", "response_metadata", "type", "name", "id", "tool_calls", "invalid_tool_calls",
    "usage_metadata",
}  # fmt: skip


def _stream(client: SyncLangGraphClient, graph: str, mode: Any, *, subgraphs: bool = False) -> list[tuple[str, Any]]:
    thread_id = client.threads.create()["thread_id"]
    parts = client.runs.stream(thread_id, graph, input=INPUT, stream_mode=mode, stream_subgraphs=subgraphs)
    return [(part.event, part.data) for part in parts]


def _names(events: list[tuple[str, Any]]) -> list[str]:
    """Event names with each subgraph task id dropped: `updates|talk:<id>` is `updates|talk`."""
    return [re.sub(r":[0-9a-f-]{36}", "", name) for name, _ in events]


def test_messages_sends_partial_metadata_and_complete(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", "messages")
    assert _names(events) == ["metadata", *MESSAGES_EVENTS]
    first_id = next(iter(events[1][1]))
    assert events[1][1][first_id]["metadata"]["langgraph_node"] == "reply"
    partials = [data for name, data in events if name == "messages/partial"]
    assert all(len(data) == 1 and data[0]["id"] == first_id and set(data[0]) == MESSAGE_FIELDS for data in partials)
    assert all(data[0]["type"] == "ai" for data in partials)  # accumulated, sent as a whole message
    assert partials[-1][0]["content"] == ANSWER
    assert ANSWER.startswith(partials[1][0]["content"]) and len(partials[1][0]["content"]) > 1
    (signed_id,) = events[-2][1]
    assert events[-2][1][signed_id]["metadata"]["langgraph_node"] == "sign"
    assert events[-1][1][0]["id"] == signed_id and events[-1][1][0]["content"] == SIGNATURE


def test_messages_tuple_sends_chunks_with_their_metadata(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", "messages-tuple")
    assert _names(events) == ["metadata", *["messages"] * (TOKENS + 1)]
    chunks = [message for _, (message, _metadata) in events[1:-1]]
    assert {chunk["type"] for chunk in chunks} == {"AIMessageChunk"}
    assert "".join(chunk["content"] for chunk in chunks) == ANSWER
    message, metadata = events[-1][1]
    assert (message["type"], message["content"], metadata["langgraph_node"]) == ("ai", SIGNATURE, "sign")


@pytest.mark.parametrize(
    ("mode", "names"),
    [
        ("values", ["values"] * 3),
        ("updates", ["updates"] * 2),
        ("custom", ["custom"]),
        ("tasks", ["tasks"] * 4),
        ("checkpoints", ["checkpoints"] * 4),
        ("debug", ["debug"] * 8),
    ],
)
def test_each_native_mode(client: SyncLangGraphClient, mode: str, names: list[str]) -> None:
    events = _stream(client, "talk", mode)
    assert _names(events) == ["metadata", *names]
    payloads = [data for _, data in events[1:]]
    if mode == "values":
        assert [m["content"] for m in payloads[-1]["messages"]] == ["hi", ANSWER, SIGNATURE]
    elif mode == "updates":
        assert [next(iter(p)) for p in payloads] == ["reply", "sign"]
    elif mode == "custom":
        assert payloads == [{"progress": "thinking"}]
    elif mode == "tasks":
        assert [set(p) for p in payloads[:2]] == [
            {"id", "name", "input", "triggers", "metadata"}, {"id", "name", "error", "result", "interrupts"}
        ]  # fmt: skip
    elif mode == "checkpoints":
        assert set(payloads[0]) == {"config", "parent_config", "values", "metadata", "next", "tasks"}
        assert payloads[-1]["next"] == []
    else:
        assert [p["type"] for p in payloads] == ["checkpoint", *["checkpoint", "task", "task_result"] * 2, "checkpoint"]
        checkpoint = payloads[1]["payload"]  # with the client's Checkpoint shapes beside LangGraph's configs
        assert set(checkpoint) == {"config", "parent_config", "checkpoint", "parent_checkpoint", "values", "metadata",
                                   "next", "tasks"}  # fmt: skip
        assert checkpoint["checkpoint"]["checkpoint_id"] == checkpoint["config"]["configurable"]["checkpoint_id"]


def test_events_mode_carries_the_chat_model_stream(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", "events")
    kinds = [data["event"] for _, data in events[1:]]
    assert {name for name, _ in events[1:]} == {"events"}
    assert kinds.count("on_chat_model_stream") == TOKENS
    assert (kinds[0], kinds[-1]) == ("on_chain_start", "on_chain_end")
    fields = {"event", "name", "run_id", "data", "metadata", "tags", "parent_ids"}
    assert all(set(data) == fields for _, data in events[1:])


def test_a_list_of_modes_interleaves_them(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", ["messages", "updates", "custom"])
    assert _names(events) == [
        "metadata", "custom", "messages/metadata", *PARTIALS, "updates", "messages/metadata", "messages/complete",
        "updates",
    ]  # fmt: skip


def test_messages_tuple_wins_over_messages(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", ["messages", "messages-tuple"])
    assert _names(events) == ["metadata", *["messages"] * (TOKENS + 1)]


def test_events_and_messages_interleave_token_by_token(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk", ["events", "messages"])
    names = [data["event"] if name == "events" else name for name, data in events]
    tokens = [i for i, name in enumerate(names) if name == "on_chat_model_stream"]
    assert len(tokens) == TOKENS
    assert names[tokens[0] + 1 : tokens[0] + 3] == ["messages/metadata", "messages/partial"]
    assert all(names[i + 1] == "messages/partial" for i in tokens[1:])
    assert names[-3:] == ["messages/metadata", "messages/complete", "on_chain_end"]


SUBGRAPH_EVENTS = {
    "values": ["values", *["values|talk"] * 3, "values"],
    "updates": [*["updates|talk"] * 2, "updates"],
    "custom": ["custom|talk"],
    "tasks": ["tasks", *["tasks|talk"] * 4, "tasks"],
    "checkpoints": [*["checkpoints"] * 2, *["checkpoints|talk"] * 4, "checkpoints"],
    "debug": [*["debug"] * 3, *["debug|talk"] * 8, *["debug"] * 2],
    "messages": MESSAGES_EVENTS,  # as on the official server: no namespace on messages/* events
    "messages-tuple": ["messages|talk"] * (TOKENS + 1),
}


@pytest.mark.parametrize("mode", list(SUBGRAPH_EVENTS))
def test_subgraph_events_name_their_namespace(client: SyncLangGraphClient, mode: str) -> None:
    events = _stream(client, "talk_nested", mode, subgraphs=True)
    assert _names(events) == ["metadata", *SUBGRAPH_EVENTS[mode]]
    namespaced = [name for name, _ in events if "|" in name]
    assert all(re.fullmatch(r"[a-z-]+\|talk:[0-9a-f-]{36}", name) for name in namespaced)


def test_without_subgraphs_messages_come_from_the_outer_node(client: SyncLangGraphClient) -> None:
    events = _stream(client, "talk_nested", "messages")
    assert _names(events) == ["metadata", *["messages/metadata", "messages/complete"] * 2]
    assert [data[0]["content"] for name, data in events if name == "messages/complete"] == [ANSWER, SIGNATURE]


def test_join_stream_replays_messages_of_a_background_run(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "talk", input=INPUT, stream_mode=["messages", "values"])
    events = [(part.event, part.data) for part in client.runs.join_stream(thread_id, run["run_id"])]
    assert _names(events) == [
        "metadata", "values", "messages/metadata", *PARTIALS, "values", "messages/metadata", "messages/complete",
        "values",
    ]  # fmt: skip
    assert events[-1][1]["messages"][-1]["content"] == SIGNATURE
