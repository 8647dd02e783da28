"""Real LangGraph threads in a real checkpoint database, aged by rewriting their timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from psycopg import AsyncConnection

CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
DRAFT_NODE = "draft"


class State(TypedDict):
    text: str


def _draft(state: State) -> State:
    return {"text": state["text"] + " drafted"}


def _ask(state: State) -> State:
    return {"text": state["text"] + " " + interrupt("approve?")}


def _done(state: State) -> State:
    return {"text": state["text"] + " done"}


def finishing_graph(saver: AsyncPostgresSaver) -> CompiledStateGraph:
    """START -> draft (a subgraph, so the thread has a second namespace) -> done -> END."""
    draft = StateGraph(State).add_node("write", _draft).add_edge(START, "write").add_edge("write", END).compile()
    builder = StateGraph(State).add_node(DRAFT_NODE, draft).add_node("done", _done)
    builder.add_edge(START, DRAFT_NODE).add_edge(DRAFT_NODE, "done").add_edge("done", END)
    return builder.compile(checkpointer=saver)


def pausing_graph(saver: AsyncPostgresSaver) -> CompiledStateGraph:
    """START -> ask (waits on a human with `interrupt()`) -> done -> END."""
    builder = StateGraph(State).add_node("ask", _ask).add_node("done", _done)
    builder.add_edge(START, "ask").add_edge("ask", "done").add_edge("done", END)
    return builder.compile(checkpointer=saver)


def thread_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


async def finish(graph: CompiledStateGraph, thread_id: str) -> None:
    result = await graph.ainvoke({"text": thread_id}, thread_config(thread_id))
    assert result["text"] == f"{thread_id} drafted done"


async def pause(graph: CompiledStateGraph, thread_id: str) -> None:
    result = await graph.ainvoke({"text": thread_id}, thread_config(thread_id))
    assert result["__interrupt__"], "the graph should stop at interrupt()"


async def resume(graph: CompiledStateGraph, thread_id: str, answer: str) -> str:
    result = await graph.ainvoke(Command(resume=answer), thread_config(thread_id))
    return result["text"]


async def set_age(
    conn: AsyncConnection, thread_id: str, age: timedelta, *, now: datetime, namespace_prefix: str | None = None
) -> None:
    """Make every checkpoint of the thread (or of its namespaces starting with the prefix) `age` old."""
    ts = (now - age).isoformat()
    query = "UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', to_jsonb(%s::text)) WHERE thread_id = %s"
    params: tuple = (ts, thread_id)
    if namespace_prefix is not None:
        query += " AND starts_with(checkpoint_ns, %s)"
        params += (namespace_prefix,)
    cursor = await conn.execute(query, params)
    assert cursor.rowcount > 0, f"thread {thread_id!r} has no checkpoints to age"


async def thread_ids_per_table(conn: AsyncConnection) -> dict[str, set[str]]:
    """The thread ids that have rows in each checkpoint table."""
    found = {}
    for table in CHECKPOINT_TABLES:
        cursor = await conn.execute(f"SELECT DISTINCT thread_id FROM {table}")  # noqa: S608 - constant names
        found[table] = {row[0] for row in await cursor.fetchall()}
    return found


async def row_counts(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in CHECKPOINT_TABLES:
        cursor = await conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - constant names
        counts[table] = (await cursor.fetchone())[0]
    return counts
