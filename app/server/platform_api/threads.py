"""Threads and thread state of the LangGraph Server API.

A thread's graph is the one its last run used (`metadata.graph_id`, set when a run claims the thread,
or given at creation with `threads.create(graph_id=...)`). State reads and writes go through that
compiled graph and the server's checkpointer, so they see exactly what runs see.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException, Response
from langchain_core.runnables import RunnableConfig
from langgraph._internal._config import recast_checkpoint_ns
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import InvalidUpdateError
from pydantic import ValidationError

from ..engine.engine import Engine, EngineDep, RunRefused
from ..inputs import InvalidInput
from ..registry import RegisteredGraph
from .context import Platform, PlatformDep, platform_router
from .models import (
    CheckpointRef,
    HistoryRequest,
    StateAtCheckpoint,
    StateUpdate,
    StoredId,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
)
from .serde import empty_thread_state, thread_state, to_jsonable
from .store import SearchFilter, ThreadBusy, ThreadExists, ThreadNotFound, thread_response

router = platform_router("threads")


async def _thread(platform: Platform, thread_id: str) -> dict[str, Any]:
    try:
        return await platform.threads.get(thread_id)
    except ThreadNotFound as error:
        raise HTTPException(404, str(error)) from None


def _graph_of(platform: Platform, thread: dict[str, Any]) -> RegisteredGraph | None:
    graph_id = thread["metadata"].get("graph_id")
    return platform.graph(graph_id) if graph_id else None


def _config(
    thread_id: str, checkpoint: CheckpointRef | None = None, checkpoint_id: str | None = None
) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint is not None:
        configurable["checkpoint_ns"] = checkpoint.checkpoint_ns
        if checkpoint.checkpoint_id:
            configurable["checkpoint_id"] = checkpoint.checkpoint_id
        if checkpoint.checkpoint_map:
            configurable["checkpoint_map"] = checkpoint.checkpoint_map
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


@router.post("/threads")
async def create_thread(body: ThreadCreate, platform: PlatformDep) -> dict[str, Any]:
    """Create a thread; an existing id is a 409 unless `if_exists="do_nothing"`."""
    if graph_id := body.metadata.get("graph_id"):
        platform.graph(graph_id)
    try:
        row = await platform.threads.create(
            body.thread_id or str(uuid.uuid4()), body.metadata, if_exists=body.if_exists
        )
    except ThreadExists as error:
        raise HTTPException(409, str(error)) from None
    return thread_response(row)


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, platform: PlatformDep) -> list[dict[str, Any]]:
    """Threads whose metadata (and values) contain the given ones, newest first by default."""
    where = SearchFilter(metadata=body.metadata, values=body.values, ids=body.ids, status=body.status)
    rows = await platform.threads.search(
        where, limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=body.sort_order
    )
    return [thread_response(row) for row in rows]


@router.post("/threads/count")
async def count_threads(body: ThreadCount, platform: PlatformDep) -> int:
    return await platform.threads.count(SearchFilter(metadata=body.metadata, values=body.values, status=body.status))


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: StoredId, platform: PlatformDep) -> dict[str, Any]:
    return thread_response(await _thread(platform, thread_id))


@router.patch("/threads/{thread_id}")
async def patch_thread(thread_id: StoredId, body: ThreadPatch, platform: PlatformDep) -> dict[str, Any]:
    """Merge `metadata` into the thread's metadata."""
    if graph_id := body.metadata.get("graph_id"):
        platform.graph(graph_id)
    try:
        return thread_response(await platform.threads.merge_metadata(thread_id, body.metadata))
    except ThreadNotFound as error:
        raise HTTPException(404, str(error)) from None


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: StoredId, platform: PlatformDep) -> Response:
    """Delete the thread, its checkpoints and its runs; a thread with a run in progress is a 409."""
    try:
        await platform.threads.delete(thread_id)
    except ThreadNotFound as error:
        raise HTTPException(404, str(error)) from None
    except ThreadBusy as error:
        raise HTTPException(409, f"{error}; it cannot be deleted now") from None
    return Response(status_code=204)


@router.post("/threads/prune")
async def prune_threads(body: ThreadPrune, platform: PlatformDep, engine: EngineDep) -> dict[str, int]:
    """`delete` the threads, or keep only their latest checkpoint (`keep_latest`); threads that are missing or
    busy are skipped. Answers how many were pruned."""
    pruned = 0
    for thread_id in dict.fromkeys(body.thread_ids):
        try:
            if body.strategy == "delete":
                await platform.threads.delete(thread_id)
            else:
                await _keep_latest(platform, engine, thread_id)
        except (ThreadNotFound, ThreadBusy, RunRefused):
            continue
        pruned += 1
    return {"pruned_count": pruned}


async def _keep_latest(platform: Platform, engine: Engine, thread_id: str) -> None:
    """Delete every checkpoint but the latest of each namespace, holding the thread as a run would."""
    thread = await platform.threads.get(thread_id)
    graph = _graph_of(platform, thread)
    if graph is None:
        return  # never run: no checkpoints
    async with engine.hold(thread_id, graph, create=False, keep_status=thread["status"]):
        database = platform.runtime.database
        if database.pool is not None:
            await database.saver.aprune([thread_id], strategy="keep_latest")  # type: ignore[attr-defined]
            return
        assert database.sqlite is not None
        async with database.saver.lock:  # type: ignore[attr-defined]
            for table in ("writes", "checkpoints"):
                await database.sqlite.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id NOT IN "  # noqa: S608 - constant names
                    "(SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? GROUP BY checkpoint_ns)",
                    (thread_id, thread_id),
                )
            await database.sqlite.commit()


@router.post("/threads/{thread_id}/copy")
async def copy_thread(thread_id: StoredId, platform: PlatformDep, engine: EngineDep) -> dict[str, Any]:
    """A new thread with the thread's metadata, state and whole checkpoint history."""
    source = await _thread(platform, thread_id)
    if source["status"] == "busy":
        raise HTTPException(409, f"Thread {thread_id!r} is busy with a run; copy it when the run has finished")
    target = str(uuid.uuid4())
    graph = _graph_of(platform, source)
    if graph is None:  # never run: nothing to copy but its metadata
        return thread_response(await platform.threads.create(target, source["metadata"], if_exists="raise"))
    await _copy_checkpoints(platform.runtime.database.saver, thread_id, target)
    try:
        async with engine.hold(target, graph, create=True, keep_status=source["status"]):
            pass  # creates the thread bound to the graph; on release its status and values come from the copy
    except RunRefused as error:
        raise HTTPException(error.status, error.message) from None
    return thread_response(await platform.threads.merge_metadata(target, source["metadata"]))


async def _copy_checkpoints(saver: BaseCheckpointSaver, source: str, target: str) -> None:
    """Every checkpoint of `source` (all namespaces, oldest first) and its pending writes, put under `target`."""
    checkpoints = [item async for item in saver.alist({"configurable": {"thread_id": source}})]
    for item in reversed(checkpoints):
        configurable: dict[str, Any] = {
            "thread_id": target,
            "checkpoint_ns": item.config["configurable"]["checkpoint_ns"],
        }
        if item.parent_config:
            configurable["checkpoint_id"] = item.parent_config["configurable"]["checkpoint_id"]
        saved = await saver.aput(
            {"configurable": configurable}, item.checkpoint, item.metadata, item.checkpoint["channel_versions"]
        )
        writes: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in item.pending_writes or ():
            writes.setdefault(task_id, []).append((channel, value))
        for task_id, task_writes in writes.items():
            await saver.aput_writes(saved, task_writes, task_id)


def _check_namespace(graph: RegisteredGraph, config: RunnableConfig) -> None:
    """An update's `checkpoint_ns` must name a subgraph of the thread's graph (LangGraph raises otherwise)."""
    namespace = config["configurable"].get("checkpoint_ns")
    subgraphs = graph.graph.get_subgraphs(namespace=recast_checkpoint_ns(namespace or ""), recurse=True)
    if namespace and next(subgraphs, None) is None:
        raise HTTPException(422, f"checkpoint.checkpoint_ns: {namespace!r} names no subgraph of graph {graph.name!r}")


async def _state(platform: Platform, thread_id: str, config: RunnableConfig, subgraphs: bool) -> dict[str, Any]:
    thread = await _thread(platform, thread_id)
    graph = _graph_of(platform, thread)
    if graph is None:
        return empty_thread_state()
    snapshot = await graph.graph.aget_state(config, subgraphs=subgraphs)
    if "checkpoint_id" in config["configurable"] and snapshot.created_at is None:
        raise HTTPException(404, f"Checkpoint {config['configurable']['checkpoint_id']!r} not found")
    return thread_state(snapshot)


@router.get("/threads/{thread_id}/state")
async def get_state(thread_id: StoredId, platform: PlatformDep, subgraphs: bool = False) -> dict[str, Any]:
    """The thread's latest state: values, next nodes, tasks with their pending interrupts."""
    return await _state(platform, thread_id, _config(thread_id), subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_at(thread_id: StoredId, checkpoint_id: StoredId, platform: PlatformDep, subgraphs: bool = False):
    return await _state(platform, thread_id, _config(thread_id, checkpoint_id=checkpoint_id), subgraphs)


@router.post("/threads/{thread_id}/state/checkpoint")
async def post_state_at(thread_id: StoredId, body: StateAtCheckpoint, platform: PlatformDep) -> dict[str, Any]:
    return await _state(platform, thread_id, _config(thread_id, body.checkpoint), body.subgraphs)


@router.post("/threads/{thread_id}/state")
async def update_state(
    thread_id: StoredId, body: StateUpdate, platform: PlatformDep, engine: EngineDep
) -> dict[str, Any]:
    """Write `values` as if node `as_node` produced them, on the latest (or given) checkpoint.

    The update holds the thread like a run does (the engine's `hold`), so it never interleaves with one.
    """
    thread = await _thread(platform, thread_id)
    graph = _graph_of(platform, thread)
    if graph is None:
        raise HTTPException(
            400,
            f"Thread {thread_id!r} has no graph yet: run it once, or create it with "
            "threads.create(graph_id=...), before updating its state",
        )
    try:
        values = graph.inputs.validate_update(body.values)
    except InvalidInput as error:
        raise HTTPException(422, str(error)) from None
    config = _config(thread_id, body.checkpoint, body.checkpoint_id)
    _check_namespace(graph, config)
    config["metadata"] = {"graph_id": graph.name}  # in the checkpoint's metadata, as officially
    try:
        async with engine.hold(thread_id, graph, create=False, keep_status=thread["status"]):
            next_config = await graph.graph.aupdate_state(config, values, as_node=body.as_node)
    except RunRefused as error:
        raise HTTPException(error.status, error.message) from None
    except InvalidUpdateError as error:
        raise HTTPException(400, f"cannot update the state of thread {thread_id!r}: {error}") from None
    checkpoint = to_jsonable(next_config["configurable"])
    # The official answer: the checkpoint, and (deprecated) the config and the checkpoint id at the top level.
    return {"checkpoint": checkpoint, "configurable": checkpoint, "checkpoint_id": checkpoint.get("checkpoint_id")}


@router.post("/threads/{thread_id}/history")
async def history(thread_id: StoredId, body: HistoryRequest, platform: PlatformDep) -> list[dict[str, Any]]:
    """Past states of the thread, newest first: `limit`, `before` a checkpoint, `metadata` filter."""
    thread = await _thread(platform, thread_id)
    graph = _graph_of(platform, thread)
    if graph is None:
        return []
    before = body.before
    if isinstance(before, dict):  # a checkpoint, or a config holding one (the form the official server takes)
        try:
            before = CheckpointRef.model_validate(before.get("configurable", before))
        except ValidationError as error:
            raise HTTPException(422, f"before: not a checkpoint: {error.errors()[0]['msg']}") from None
    before_config = (
        _config(thread_id, checkpoint_id=before)
        if isinstance(before, str)
        else _config(thread_id, before)
        if before is not None
        else None
    )
    states = []
    async for snapshot in graph.graph.aget_state_history(
        _config(thread_id, body.checkpoint), filter=body.metadata, before=before_config, limit=body.limit
    ):
        states.append(thread_state(snapshot))
    return states
