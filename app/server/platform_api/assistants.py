"""Assistants of the LangGraph Server API: one per registered graph, whose id is the graph name.

Assistants are read-only here: they come from `langgraph.json`, with an empty config, version 1 and
`metadata.created_by = "system"`, as LangGraph Platform creates them for each graph.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from langgraph.pregel import Pregel
from pydantic import TypeAdapter

from ..registry import RegisteredGraph
from .context import Platform, PlatformDep, PlatformRoute
from .models import AssistantSearch
from .serde import to_jsonable

log = logging.getLogger(__name__)

router = APIRouter(tags=["assistants"], route_class=PlatformRoute)

# Assistants exist as long as the graph configuration does; they report the time this process loaded it.
_LOADED_AT = datetime.now(UTC).isoformat()


def assistant_response(graph: RegisteredGraph) -> dict[str, Any]:
    return {
        "assistant_id": graph.name,
        "graph_id": graph.name,
        "name": graph.name,
        "description": graph.description,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": _LOADED_AT,
        "updated_at": _LOADED_AT,
    }


def _matches(assistant: dict[str, Any], body: AssistantSearch) -> bool:
    metadata = body.metadata or {}
    return (
        (body.graph_id is None or assistant["graph_id"] == body.graph_id)
        and (body.name is None or body.name.lower() in assistant["name"].lower())
        and all(assistant["metadata"].get(key) == value for key, value in metadata.items())
    )


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, response: Response, platform: PlatformDep) -> list[dict[str, Any]]:
    """Assistants filtered by graph id, name substring and metadata; `X-Pagination-Next` gives the next offset."""
    found = [a for a in map(assistant_response, _graphs(platform)) if _matches(a, body)]
    if body.sort_by:
        found.sort(key=lambda a: a[body.sort_by], reverse=body.sort_order == "desc")
    page = found[body.offset : body.offset + body.limit]
    if body.offset + body.limit < len(found):
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return page


@router.post("/assistants/count")
async def count_assistants(body: AssistantSearch, platform: PlatformDep) -> int:
    return sum(_matches(a, body) for a in map(assistant_response, _graphs(platform)))


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, platform: PlatformDep) -> dict[str, Any]:
    return assistant_response(platform.assistant(assistant_id))


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(assistant_id: str, platform: PlatformDep, xray: bool | int = False) -> dict[str, Any]:
    """The graph's nodes and edges, as LangGraph draws them (`xray` includes subgraphs)."""
    drawable = platform.assistant(assistant_id).graph.get_graph(xray=xray)
    return to_jsonable(drawable.to_json())


@router.get("/assistants/{assistant_id}/schemas")
async def get_assistant_schemas(assistant_id: str, platform: PlatformDep) -> dict[str, Any]:
    """JSON schemas of the graph's input, output, state and context (null where one cannot be derived)."""
    graph = platform.assistant(assistant_id)
    pregel = graph.graph
    return {
        "graph_id": graph.name,
        "input_schema": _schema(graph.name, "input", pregel.get_input_jsonschema),
        "output_schema": _schema(graph.name, "output", pregel.get_output_jsonschema),
        "state_schema": _schema(graph.name, "state", lambda: _state_jsonschema(pregel)),
        "config_schema": None,
        "context_schema": _schema(graph.name, "context", pregel.get_context_jsonschema),
    }


def _graphs(platform: Platform) -> list[RegisteredGraph]:
    registry = platform.runtime.registry
    return [registry.get(name) for name in registry.names()]


def _state_jsonschema(pregel: Pregel) -> dict[str, Any] | None:
    builder = getattr(pregel, "builder", None)
    state_schema = getattr(builder, "state_schema", None)
    return TypeAdapter(state_schema).json_schema() if state_schema is not None else None


def _schema(graph: str, kind: str, derive: Any) -> dict[str, Any] | None:
    try:
        return derive()
    except Exception as error:
        # E.g. a `typing.TypedDict` state on Python < 3.12, which pydantic cannot describe.
        log.warning("cannot derive a JSON schema", extra={"graph": graph, "schema": kind, "reason": str(error)})
        return None
