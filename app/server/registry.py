"""Graph registry read from a `langgraph.json` in LangGraph Platform's format.

`{"graphs": {"name": "./path/to/file.py:attr" | "package.module:attr"}}` (a value may also be `{"path": "...",
"description": "..."}`). Paths are relative to the file. `attr` may be a `StateGraph`, an already compiled graph,
or a function returning either. Every graph is loaded and compiled once, at startup, with the process's
checkpointer and long-term memory store (a node's `store` argument). A function may raise
`GraphUnavailable(reason)` when its graph cannot run here (e.g. no provider key): that graph is skipped with one
log line; any other error stops startup.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import logging
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore, IndexConfig, ensure_embeddings

from .inputs import GraphInputSchema

# The namespace LangGraph Platform derives default assistant ids from (`langgraph_api.graph.NAMESPACE_GRAPH`).
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


@functools.lru_cache(maxsize=256)  # a uuid5 (SHA-1) per run otherwise; bounded: ids from requests pass here too
def default_assistant_id(graph_id: str) -> str:
    """The id of a graph's default assistant, the same on every LangGraph server."""
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_id))


GRAPH_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """The graph configuration cannot be loaded; the message names the file, graph and problem."""


class GraphUnavailable(Exception):
    """Raised by a graph's factory when the graph cannot run in this environment; `reason` says how to enable it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GraphNotFound(LookupError):
    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"graph {name!r} not found; available graphs: {', '.join(available) or '(none)'}")
        self.name = name
        self.available = available


@dataclass(frozen=True)
class RegisteredGraph:
    name: str
    graph: Pregel
    source: str
    description: str | None
    nodes: frozenset[str]
    inputs: GraphInputSchema


class GraphRegistry:
    """The compiled graphs, by name."""

    def __init__(self, graphs: dict[str, RegisteredGraph]) -> None:
        self.graphs = graphs

    def get(self, name: str) -> RegisteredGraph:
        try:
            return self.graphs[name]
        except KeyError:
            raise GraphNotFound(name, sorted(self.graphs)) from None

    def names(self) -> list[str]:
        return sorted(self.graphs)


def _import_source(spec: str, base_dir: Path, name: str, owner: str) -> ModuleType:
    """Import `spec` (a file relative to `base_dir`, or a module) as `langgraph_graphs.<name>`; `owner` names it in
    errors."""
    location = spec
    if location.endswith(".py") or "/" in location:
        path = (base_dir / location).resolve()
        if not path.is_file():
            raise RegistryError(f"{owner}: file {path} does not exist")
        module_spec = importlib.util.spec_from_file_location(f"langgraph_graphs.{name}", path)
        if module_spec is None or module_spec.loader is None:
            raise RegistryError(f"{owner}: cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module  # type hints of the graph's state resolve through sys.modules
        module_spec.loader.exec_module(module)
        return module
    return importlib.import_module(location)


def _compile(target: Any, checkpointer: BaseCheckpointSaver, store: BaseStore | None, graph_name: str) -> Pregel:
    if isinstance(target, StateGraph):
        return target.compile(checkpointer=checkpointer, store=store, name=graph_name)
    if isinstance(target, Pregel):
        return target.copy(update={"checkpointer": checkpointer, "store": store})
    if callable(target) and not inspect.iscoroutinefunction(target):
        return _compile(target(), checkpointer, store, graph_name)
    raise RegistryError(
        f"graph {graph_name!r} is a {type(target).__name__}; expected a StateGraph, a compiled graph, "
        "or a function returning one"
    )


def _read_config(config_path: Path) -> Any:
    try:
        return json.loads(config_path.read_text())
    except FileNotFoundError:
        raise RegistryError(f"graph config {config_path} does not exist") from None
    except json.JSONDecodeError as error:
        raise RegistryError(f"graph config {config_path} is not valid JSON: {error}") from None


def _embeddings(embed: str, config_path: Path) -> Any:
    """The embeddings function `store.index.embed` names, in a file relative to `config_path`."""
    owner = f"store.index.embed in {config_path}"
    if ".py:" not in embed:
        raise RegistryError(
            f"{owner}: {embed!r} is not a path to a function; provider models ('openai:...') need LangChain, which "
            "this server does not ship: give a function that calls the provider, './embed.py:embed'"
        )
    source, function = embed.rsplit(":", 1)
    module = _import_source(source, config_path.parent, "store_index_embed", owner)
    if not callable(getattr(module, function, None)):
        raise RegistryError(f"{owner}: {source} has no function {function!r}")
    return ensure_embeddings(getattr(module, function))


def load_store_index(config_path: Path) -> IndexConfig | None:
    """The store's semantic-search index from `store.index` in `config_path`, or None when it has none."""
    config = _read_config(config_path)
    store = config.get("store") if isinstance(config, dict) else None
    index = store.get("index") if isinstance(store, dict) else None
    if index is None:
        return None
    where = f"store.index in {config_path}"
    if not isinstance(index, dict) or not isinstance(index.get("embed"), str):
        raise RegistryError(f"{where} needs 'embed': a path to a function, './embed.py:embed'")
    dims = index.get("dims")
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        raise RegistryError(f"{where} needs 'dims', the embeddings' length, a positive integer; got {dims!r}")
    fields = index.get("fields", ["$"])
    if not isinstance(fields, list) or not fields or not all(isinstance(field, str) for field in fields):
        raise RegistryError(f"{where}: 'fields' must be a non-empty list of JSON paths; got {fields!r}")
    return {"dims": dims, "embed": _embeddings(index["embed"], config_path), "fields": fields}


def load_registry(
    config_path: Path, checkpointer: BaseCheckpointSaver, store: BaseStore | None = None
) -> GraphRegistry:
    """Load and compile every graph listed in `config_path`, with `store` as their long-term memory."""
    config = _read_config(config_path)
    entries = config.get("graphs") if isinstance(config, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise RegistryError(f"graph config {config_path} needs a non-empty 'graphs' object")
    graphs: dict[str, RegisteredGraph] = {}
    skipped: dict[str, str] = {}
    for name, entry in entries.items():
        if not GRAPH_NAME.match(name):
            raise RegistryError(f"graph name {name!r} in {config_path} must match {GRAPH_NAME.pattern}")
        spec, description = (entry.get("path"), entry.get("description")) if isinstance(entry, dict) else (entry, None)
        if not isinstance(spec, str) or spec.count(":") != 1:
            raise RegistryError(f"graph {name!r} in {config_path}: expected 'path/to/file.py:attribute', got {spec!r}")
        source, attribute = spec.split(":")
        module = _import_source(source, config_path.parent, name, f"graph {name!r}")
        if not hasattr(module, attribute):
            raise RegistryError(f"graph {name!r}: {source} has no attribute {attribute!r}")
        try:
            compiled = _compile(getattr(module, attribute), checkpointer, store, name)
        except GraphUnavailable as unavailable:
            log.warning("graph %r skipped: %s", name, unavailable.reason, extra={"graph": name})
            skipped[name] = unavailable.reason
            continue
        graphs[name] = RegisteredGraph(
            name=name,
            graph=compiled,
            source=spec,
            description=description,
            nodes=frozenset(compiled.nodes),
            inputs=GraphInputSchema.of(name, compiled),
        )
    if not graphs:
        reasons = "; ".join(f"{name!r}: {reason}" for name, reason in skipped.items())
        raise RegistryError(f"graph config {config_path}: every graph was skipped ({reasons})")
    return GraphRegistry(graphs)
