"""A graph with long-term memory: each run may teach it a fact about the user, and it answers with everything it
knows about that user, from any of the user's threads (the store, namespace `("memories", <user_id>)`)."""

from __future__ import annotations

import uuid

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


class UserContext(TypedDict):
    user_id: str


class MemoryState(TypedDict, total=False):
    fact: str
    known: list[str]


async def remember(state: MemoryState, runtime: Runtime[UserContext]) -> MemoryState:
    assert runtime.store is not None, "the server compiles every graph with its store"
    namespace = ("memories", runtime.context["user_id"])
    if fact := state.get("fact"):
        await runtime.store.aput(namespace, str(uuid.uuid4()), {"fact": fact})
    items = await runtime.store.asearch(namespace, limit=100)
    return {"known": sorted(item.value["fact"] for item in items)}


graph = (
    StateGraph(MemoryState, context_schema=UserContext)
    .add_node(remember)
    .add_edge(START, "remember")
    .add_edge("remember", END)
)
