"""JSON encoding of LangGraph values and the response shapes the `langgraph-sdk` client reads.

Graph state holds objects JSON does not know (LangChain messages, `Interrupt`, `Send`, datetimes);
`to_jsonable` turns them into plain data the same way everywhere: over HTTP, in SSE events and in
the `values`/`interrupts` columns of the threads table.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message
from langgraph.types import Interrupt, Send, StateSnapshot
from pydantic import BaseModel


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id}
    if isinstance(obj, Send):
        return {"node": obj.node, "input": obj.arg}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    # An object nobody taught us to encode still must not break a stream or a response.
    return repr(obj)


def dumps(value: Any) -> str:
    """Encode `value` as compact JSON, converting LangGraph and LangChain objects."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def to_jsonable(value: Any) -> Any:
    """`value` as plain JSON data (dicts, lists, strings, numbers, booleans, None)."""
    return json.loads(dumps(value))


def checkpoint_of(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The client's `Checkpoint` shape from a LangGraph `RunnableConfig`."""
    if not config:
        return None
    configurable = config.get("configurable", {})
    checkpoint = {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
    }
    if configurable.get("checkpoint_map"):  # a subgraph's checkpoint; the official server omits it otherwise
        checkpoint["checkpoint_map"] = configurable["checkpoint_map"]
    return checkpoint


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """The client's `ThreadState` shape from a LangGraph `StateSnapshot`."""
    metadata = dict(snapshot.metadata or {})
    if metadata.get("checkpoint_ns") == "":
        metadata.pop("checkpoint_ns")
    if snapshot.metadata is not None:  # LangGraph keeps it out of checkpoint metadata; the official server adds it
        metadata.setdefault("thread_id", snapshot.config["configurable"].get("thread_id"))
    tasks = []
    for task in snapshot.tasks:
        state = task.state
        tasks.append({
            "id": task.id,
            "name": task.name,
            "path": list(task.path),
            "error": repr(task.error) if isinstance(task.error, BaseException) else task.error,
            "interrupts": list(task.interrupts),
            "checkpoint": checkpoint_of(state) if isinstance(state, Mapping) else None,
            "state": thread_state(state) if isinstance(state, StateSnapshot) else None,
            "result": task.result,
        })  # fmt: skip
    return to_jsonable({
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint_of(snapshot.config),
        "parent_checkpoint": checkpoint_of(snapshot.parent_config),
        "interrupts": list(snapshot.interrupts),
        # The official server still sends these (deprecated) ids at the top level.
        "checkpoint_id": _checkpoint_id(snapshot.config),
        "parent_checkpoint_id": _checkpoint_id(snapshot.parent_config),
    })  # fmt: skip


def _checkpoint_id(config: Mapping[str, Any] | None) -> str | None:
    return (config or {}).get("configurable", {}).get("checkpoint_id")


def empty_thread_state() -> dict[str, Any]:
    """The state of a thread that has no checkpoint yet, as the official server answers it."""
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": None,
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def debug_event(chunk: dict[str, Any]) -> dict[str, Any]:
    """A `debug` event as the official server sends it: a checkpoint's payload also holds the client's `checkpoint`
    and `parent_checkpoint`, and its tasks' subgraph configs become `checkpoint`."""
    payload = chunk.get("payload")
    if chunk.get("type") != "checkpoint" or not isinstance(payload, dict):
        return chunk
    tasks = []
    for task in payload.get("tasks", []):
        state = task.get("state")
        if isinstance(state, dict) and state.get("configurable"):
            task = {key: value for key, value in task.items() if key != "state"} | {"checkpoint": state["configurable"]}
        tasks.append(task)
    return {
        **chunk,
        "payload": {
            **payload,
            "checkpoint": _client_checkpoint(payload.get("config")),
            "parent_checkpoint": _client_checkpoint(payload.get("parent_config")),
            "tasks": tasks,
        },
    }


def _client_checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The official server's checkpoint of a debug event: only the keys the config has, None without an id."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    checkpoint = {"checkpoint_id": configurable["checkpoint_id"], "thread_id": configurable["thread_id"]}
    if "checkpoint_ns" in configurable:
        checkpoint["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        checkpoint["checkpoint_map"] = configurable["checkpoint_map"]
    return checkpoint


class MessageEvents:
    """`stream_mode="messages"` as the official server sends it, from LangGraph's (message, metadata) pairs: the
    first time a message id is seen, `messages/metadata` ({id: {"metadata": ...}}); then `messages/partial` with
    the message accumulated so far (a chunk) or `messages/complete` (a whole message), each a one-message list."""

    def __init__(self) -> None:
        self._messages: dict[Any, BaseMessage] = {}

    def events(self, chunk: tuple[BaseMessage, dict[str, Any]]) -> list[tuple[str, Any]]:
        message, metadata = chunk
        events: list[tuple[str, Any]] = []
        so_far = self._messages.get(message.id)
        if so_far is None:
            events.append(("messages/metadata", {message.id: {"metadata": metadata}}))
            so_far = message
        elif isinstance(so_far, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
            so_far = so_far + message
        else:
            so_far = message
        self._messages[message.id] = so_far
        kind = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
        events.append((kind, [message_chunk_to_message(so_far)]))
        return events


def interrupts_by_task(snapshot: StateSnapshot) -> dict[str, list[Any]]:
    """Pending interrupts keyed by task id, as the client's `Thread.interrupts` holds them."""
    return to_jsonable({task.id: list(task.interrupts) for task in snapshot.tasks if task.interrupts})
