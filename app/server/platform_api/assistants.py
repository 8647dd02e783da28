"""Assistants of the LangGraph Server API: records in the database (`assistant_store`), each running one graph.

Every registered graph has a default assistant (id `uuid5(NAMESPACE_GRAPH, graph_id)`, metadata
`created_by: system`, as LangGraph Platform creates them); the graph's name is accepted wherever an assistant id
is. Create more from a graph with their own config, context and metadata; an update records a new version.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Response
from langgraph.pregel import Pregel
from pydantic import TypeAdapter, create_model

from ..registry import default_assistant_id
from .assistant_store import (
    DEFAULT_NAME,
    AssistantExists,
    AssistantNotFound,
    assistant_response,
)
from .context import Platform, PlatformDep, page_of, platform_router
from .models import (
    AssistantCount,
    AssistantCreate,
    AssistantLatest,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionSearch,
)
from .serde import to_jsonable

log = logging.getLogger(__name__)

router = platform_router("assistants")


def _not_found(error: AssistantNotFound) -> HTTPException:
    return HTTPException(404, str(error))


@router.post("/assistants")
async def create_assistant(body: AssistantCreate, platform: PlatformDep) -> dict[str, Any]:
    """Create an assistant of a registered graph; an existing id is a 409 unless `if_exists="do_nothing"`."""
    platform.graph(body.graph_id)
    assistant_id = str(uuid.uuid4())
    if body.assistant_id is not None:
        try:
            assistant_id = str(uuid.UUID(body.assistant_id))
        except ValueError:
            raise HTTPException(422, f"Invalid assistant ID {body.assistant_id!r}: must be a UUID") from None
    fields = {
        "graph_id": body.graph_id, "name": body.name or DEFAULT_NAME, "description": body.description,
        "config": body.config, "context": body.context, "metadata": body.metadata,
    }  # fmt: skip
    try:
        record = await platform.assistants.create(assistant_id, fields, if_exists=body.if_exists)
    except AssistantExists as error:
        raise HTTPException(409, str(error)) from None
    return assistant_response(record)


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, response: Response, platform: PlatformDep) -> list[dict[str, Any]]:
    """Assistants filtered by graph id, name substring and metadata, newest first; `X-Pagination-Next` gives
    the next offset."""
    found = await platform.assistants.search(graph_id=body.graph_id, name=body.name, metadata=body.metadata)
    if body.sort_by:
        found.sort(key=lambda row: str(row[body.sort_by]), reverse=body.sort_order != "asc")
    return page_of(
        found, offset=body.offset, limit=body.limit, select=body.select, response=response, shape=assistant_response
    )


@router.post("/assistants/count")
async def count_assistants(body: AssistantCount, platform: PlatformDep) -> int:
    return len(await platform.assistants.search(graph_id=body.graph_id, name=body.name, metadata=body.metadata))


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, platform: PlatformDep) -> dict[str, Any]:
    return assistant_response((await platform.assistant(assistant_id)).record)


@router.patch("/assistants/{assistant_id}")
async def update_assistant(assistant_id: str, body: AssistantPatch, platform: PlatformDep) -> dict[str, Any]:
    """Record a new version (config and context replaced when given, metadata merged) and make it current."""
    if body.graph_id is not None:
        platform.graph(body.graph_id)
    try:
        record = await platform.assistants.update(
            platform.assistant_id(assistant_id), body.model_dump(exclude_none=True)
        )
    except AssistantNotFound as error:
        raise _not_found(error) from None
    return assistant_response(record)


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(assistant_id: str, platform: PlatformDep, delete_threads: bool = False) -> Response:
    """Delete the assistant and its versions; a graph's default assistant (from `langgraph.json`) is a 409."""
    if delete_threads:
        raise HTTPException(422, "delete_threads=true is not supported by this server; delete the threads first")
    resolved = platform.assistant_id(assistant_id)
    if resolved in {default_assistant_id(graph) for graph in platform.runtime.registry.names()}:
        raise HTTPException(
            409,
            f"Assistant {assistant_id!r} is the default assistant of a graph in langgraph.json; it cannot be deleted "
            "(update it, or remove the graph from langgraph.json)",
        )
    try:
        await platform.assistants.delete(resolved)
    except AssistantNotFound as error:
        raise _not_found(error) from None
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/versions")
async def list_versions(assistant_id: str, body: AssistantVersionSearch, platform: PlatformDep) -> list[dict[str, Any]]:
    """The assistant's versions, newest first, filtered by metadata."""
    try:
        rows = await platform.assistants.versions(
            platform.assistant_id(assistant_id), body.metadata, limit=body.limit, offset=body.offset
        )
    except AssistantNotFound as error:
        raise _not_found(error) from None
    return [assistant_response(row) for row in rows]


@router.post("/assistants/{assistant_id}/latest")
async def set_latest_version(assistant_id: str, body: AssistantLatest, platform: PlatformDep) -> dict[str, Any]:
    """Make an earlier (or later) version the current one."""
    try:
        record = await platform.assistants.set_latest(platform.assistant_id(assistant_id), body.version)
    except AssistantNotFound as error:
        raise _not_found(error) from None
    return assistant_response(record)


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(assistant_id: str, platform: PlatformDep, xray: bool | int = False) -> dict[str, Any]:
    """The graph's nodes and edges, as LangGraph draws them (`xray` includes subgraphs, to that depth)."""
    pregel = (await platform.assistant(assistant_id)).graph.graph
    drawn = to_jsonable((await pregel.aget_graph(xray=xray)).to_json())
    for node in drawn.get("nodes", []):
        if isinstance(node.get("data"), dict):
            node["data"].pop("id", None)  # the official server leaves out the runnable's class path
    return drawn


@router.get("/assistants/{assistant_id}/schemas")
async def get_assistant_schemas(assistant_id: str, platform: PlatformDep) -> dict[str, Any]:
    """JSON schemas of the graph's input, output, state and context (null where one cannot be derived)."""
    assistant = await platform.assistant(assistant_id)
    return {"graph_id": assistant.graph.name, **_graph_schemas(assistant.graph.name, assistant.graph.graph)}


@router.get("/assistants/{assistant_id}/subgraphs")
async def get_subgraphs(assistant_id: str, platform: PlatformDep, recurse: bool = False) -> dict[str, Any]:
    """The schemas of the graph's subgraphs, by namespace (`recurse` includes nested ones)."""
    return await _subgraphs(platform, assistant_id, None, recurse)


@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def get_subgraphs_in(assistant_id: str, namespace: str, platform: PlatformDep, recurse: bool = False):
    return await _subgraphs(platform, assistant_id, namespace, recurse)


async def _subgraphs(platform: Platform, assistant_id: str, namespace: str | None, recurse: bool) -> dict[str, Any]:
    graph = (await platform.assistant(assistant_id)).graph
    return {
        name: _graph_schemas(f"{graph.name}|{name}", subgraph)
        async for name, subgraph in graph.graph.aget_subgraphs(namespace=namespace, recurse=recurse)
    }


def _graph_schemas(name: str, pregel: Pregel) -> dict[str, Any]:
    return {
        "input_schema": _schema(name, "input", pregel.get_input_jsonschema),
        "output_schema": _schema(name, "output", pregel.get_output_jsonschema),
        "state_schema": _schema(name, "state", lambda: _state_jsonschema(pregel)),
        "config_schema": {},  # the official server's answer for a graph without a `configurable` schema
        "context_schema": _schema(name, "context", pregel.get_context_jsonschema),
    }


def _state_jsonschema(pregel: Pregel) -> dict[str, Any]:
    """The state as the official server describes it: each channel's update type, every field defaulting to None."""
    fields: dict[str, Any] = {}
    for name in pregel.stream_channels_list:
        update_type = pregel.channels[name].UpdateType
        try:
            TypeAdapter(update_type).json_schema()
        except Exception:  # a type pydantic cannot describe is any value, as on the official server
            update_type = Any
        fields[name] = (update_type, None)
    return create_model(pregel.get_name("State"), **fields).model_json_schema()


def _schema(graph: str, kind: str, derive: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        return derive()
    except Exception as error:
        # E.g. a `typing.TypedDict` state on Python < 3.12, which pydantic cannot describe.
        log.warning("cannot derive a JSON schema", extra={"graph": graph, "schema": kind, "reason": str(error)})
        return None
