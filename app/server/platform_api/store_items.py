"""The long-term memory store of the LangGraph Server API: items by namespace and key, shared by all threads.

The same store is compiled into every graph, so what a node writes with `runtime.store` (or its `store`
argument) a client reads here and the other way round. PostgreSQL uses langgraph's `AsyncPostgresStore`,
the embedded default its `AsyncSqliteStore`; both are set up by `python -m app.migrate`.

`ttl` is in minutes, refreshed on read unless `refresh_ttl=false`; expired items are never returned and
`python -m app.prune` deletes them. Semantic search (`query`, results ranked by `score`) needs an embeddings
model, configured as on LangGraph Platform by `store.index` in langgraph.json (see `app.server.registry`);
without one a `query` (or a put's `index` fields) is a 422 that says how to configure it. A put's `index=false`
keeps an item out of semantic search.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query, Response
from langgraph.store.base import BaseStore
from pydantic import AfterValidator, Field, field_validator

from ..inputs import JsonObject, json_value_problem
from .context import Platform, PlatformDep, platform_router
from .models import MAX_OFFSET, MAX_PAGE, _Body

router = platform_router("store")

# TTLs in minutes the store can write as an interval (it formats seconds as a float: no exponent in this range).
MIN_TTL_MINUTES = 0.001
MAX_TTL_MINUTES = 100 * 365 * 24 * 60

NO_EMBEDDINGS = (
    "semantic search needs an embeddings model, and this server has none configured for the store: configure "
    "one in langgraph.json as store.index ({'embed': './embed.py:function', 'dims': N, 'fields': ['$']}), or "
    "search with filter, limit and offset"
)


def _labels(namespace: list[str], field: str) -> list[str]:
    for label in namespace:
        if not label or "." in label:
            raise ValueError(f"{field} labels must be non-empty and contain no periods ('.'); got {label!r}")
        if (problem := json_value_problem(label)) is not None:
            raise ValueError(f"{field} label {problem}")
    return namespace


def _key(key: str) -> str:
    if (problem := json_value_problem(key)) is not None:
        raise ValueError(f"key {problem}")
    return key


StoreKey = Annotated[str, Field(min_length=1), AfterValidator(_key)]


def _namespace_field(field: str) -> Any:
    """A validator of the namespace-like list `field`."""
    return field_validator(field)(classmethod(lambda cls, value: value if value is None else _labels(value, field)))


class ItemPut(_Body):
    namespace: list[str] = Field(min_length=1)
    key: StoreKey
    value: JsonObject
    index: Literal[False] | list[str] | None = None  # the fields to embed instead of store.index's; false: none
    ttl: float | None = Field(None, ge=MIN_TTL_MINUTES, le=MAX_TTL_MINUTES)

    _namespace = _namespace_field("namespace")


class ItemDelete(_Body):
    namespace: list[str] = Field(min_length=1)
    key: StoreKey

    _namespace = _namespace_field("namespace")


class ItemSearch(_Body):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: JsonObject | None = None
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    query: str | None = None
    refresh_ttl: bool | None = None

    _prefix = _namespace_field("namespace_prefix")


class NamespaceList(_Body):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    _prefix = _namespace_field("prefix")
    _suffix = _namespace_field("suffix")


def _store(platform: Platform) -> BaseStore:
    return platform.runtime.database.store


def _need_index(platform: Platform, field: str) -> None:
    if platform.runtime.database.index is None:
        raise HTTPException(422, f"{field}: {NO_EMBEDDINGS}")


@router.put("/store/items", status_code=204)
async def put_item(body: ItemPut, platform: PlatformDep) -> Response:
    """Create or replace an item; `ttl` minutes after its last write or read it expires."""
    if body.index:
        _need_index(platform, "index")
    await _store(platform).aput(tuple(body.namespace), body.key, body.value, index=body.index, ttl=body.ttl)
    return Response(status_code=204)


@router.get("/store/items")
async def get_item(
    platform: PlatformDep,
    key: Annotated[str, Query(min_length=1), AfterValidator(_key)],
    namespace: str = "",
    refresh_ttl: bool | None = None,
) -> dict[str, Any] | None:
    """The item, or null when there is none (as the official server answers)."""
    labels = namespace.split(".")
    try:
        _labels(labels, "namespace")
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    item = await _store(platform).aget(tuple(labels), key, refresh_ttl=refresh_ttl)
    return None if item is None else item.dict()


@router.delete("/store/items", status_code=204)
async def delete_item(body: ItemDelete, platform: PlatformDep) -> Response:
    await _store(platform).adelete(tuple(body.namespace), body.key)
    return Response(status_code=204)


@router.post("/store/items/search")
async def search_items(body: ItemSearch, platform: PlatformDep) -> dict[str, Any]:
    """Items under a namespace prefix whose values match `filter` (values, or `$eq`, `$ne`, `$gt`, `$gte`, `$lt`,
    `$lte` comparisons): with a `query`, the closest to it first (each with its `score`), else the most recently
    updated first."""
    if body.query:
        _need_index(platform, "query")
    try:
        items = await _store(platform).asearch(
            tuple(body.namespace_prefix),
            query=body.query or None,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )
    except ValueError as error:  # the store's own check of the filter's operators
        raise HTTPException(422, f"filter: {error}") from None
    return {"items": [item.dict() for item in items]}


@router.post("/store/namespaces")
async def list_namespaces(body: NamespaceList, platform: PlatformDep) -> dict[str, Any]:
    namespaces = await _store(platform).alist_namespaces(
        prefix=tuple(body.prefix) if body.prefix else None,
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return {"namespaces": [list(namespace) for namespace in namespaces]}
