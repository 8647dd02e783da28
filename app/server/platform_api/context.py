"""What the LangGraph Server API routes share with the rest of the server, and its error shape.

The server's runtime (graphs, checkpointer, run metrics, drain, auth) is reused as is; this package adds the
thread, assistant and cron stores, created on first use over the same pool or SQLite connection.

Errors on these routes use the official API's shape, `{"detail": "<message>"}` with the same status
codes, which `langgraph-sdk` turns into `NotFoundError`, `ConflictError`, ... with that message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..errors import body_parse_problem, database_unavailable, database_unavailable_error
from ..jsonio import FastJSONResponse
from ..registry import GraphNotFound, RegisteredGraph, default_assistant_id
from ..runtime import Runtime, get_runtime
from .assistant_store import THREAD_NOT_READ, AssistantNotFound, AssistantStore
from .cron_store import CronStore
from .store import PostgresThreadStore, SqliteThreadStore, ThreadNotFound, ThreadStore


@dataclass(frozen=True)
class Assistant:
    """An assistant record and the compiled graph it runs."""

    record: dict[str, Any]
    graph: RegisteredGraph

    @property
    def assistant_id(self) -> str:
        return self.record["assistant_id"]


class DetailBody(BaseModel):
    """Every error of these routes: `detail` says what is wrong; a 422 lists each field in `errors`."""

    detail: str
    errors: list[dict[str, Any]] | None = None


PLATFORM_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": DetailBody, "description": "The request cannot apply to this thread or cannot be parsed"},
    401: {"model": DetailBody, "description": "API keys are configured and none (or a wrong one) was sent"},
    404: {"model": DetailBody, "description": "No such assistant, thread or checkpoint"},
    409: {"model": DetailBody, "description": "The thread exists already, or is busy with a run"},
    413: {"model": DetailBody, "description": "Body larger than MAX_BODY_BYTES"},
    422: {"model": DetailBody, "description": "A field is malformed or not supported; `errors` names each"},
    503: {"model": DetailBody, "description": "The server is draining, or the database is unreachable"},
}


@dataclass(frozen=True)
class Platform:
    runtime: Runtime
    threads: ThreadStore
    assistants: AssistantStore
    crons: CronStore

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Platform:
        return cls(runtime, _thread_store(runtime), _assistant_store(runtime), _cron_store(runtime))

    def graph(self, graph_id: str) -> RegisteredGraph:
        """A registered graph by name; 404 naming the available ones if there is none."""
        try:
            return self.runtime.registry.get(graph_id)
        except GraphNotFound as error:
            raise HTTPException(404, f"Graph {graph_id!r} not found; available: {error.available}") from None

    def assistant_id(self, assistant_id: str) -> str:
        """The UUID an assistant id names: a graph's name stands for its default assistant. Anything else that
        is not a UUID is a 422, as on LangGraph Platform."""
        if assistant_id in self.runtime.registry.graphs:
            return default_assistant_id(assistant_id)
        try:
            uuid.UUID(assistant_id)
        except ValueError:
            raise HTTPException(
                422,
                f"Invalid assistant ID {assistant_id!r}: must be a UUID or the name of a graph "
                f"({', '.join(self.runtime.registry.names())})",
            ) from None
        return assistant_id

    async def assistant(self, assistant_id: str) -> Assistant:
        """The assistant (404 if there is none) and its graph (404 if this server does not serve it)."""
        resolved = self.assistant_id(assistant_id)
        try:
            record = await self.assistants.get(resolved)
        except AssistantNotFound as error:
            raise HTTPException(404, str(error)) from None
        return Assistant(record, self.graph(record["graph_id"]))

    async def assistant_and_thread_metadata(
        self, assistant_id: str, thread_id: str
    ) -> tuple[Assistant, dict[str, Any]]:
        """`assistant`, and the metadata of thread `thread_id` (`{}` if there is no such thread yet), in one
        database round trip where the backend allows."""
        resolved = self.assistant_id(assistant_id)
        try:
            record, metadata = await self.assistants.get_with_thread_metadata(resolved, thread_id)
        except AssistantNotFound as error:
            raise HTTPException(404, str(error)) from None
        assistant = Assistant(record, self.graph(record["graph_id"]))
        if metadata is THREAD_NOT_READ:
            try:
                metadata = (await self.threads.get(thread_id))["metadata"]
            except ThreadNotFound:
                metadata = None
        return assistant, metadata or {}


def _thread_store(runtime: Runtime) -> ThreadStore:
    database = runtime.database
    if database.pool is not None:
        return PostgresThreadStore(database.pool)
    assert database.sqlite is not None
    return SqliteThreadStore(database.sqlite, database.saver.lock)  # type: ignore[attr-defined]


def _assistant_store(runtime: Runtime) -> AssistantStore:
    database, registry = runtime.database, runtime.registry
    graphs = [(name, registry.get(name).description) for name in registry.names()]
    if database.pool is not None:
        return AssistantStore.postgres(database.pool, graphs)
    assert database.sqlite is not None
    return AssistantStore.sqlite(database.sqlite, database.saver.lock, graphs)  # type: ignore[attr-defined]


def _cron_store(runtime: Runtime) -> CronStore:
    database = runtime.database
    if database.pool is not None:
        return CronStore.postgres(database.pool)
    assert database.sqlite is not None
    return CronStore.sqlite(database.sqlite, database.saver.lock)  # type: ignore[attr-defined]


async def get_platform(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Platform:
    """FastAPI dependency: the platform of this app, built once from its runtime (async: no thread-pool hop)."""
    platform: Platform | None = getattr(request.app.state, "platform", None)
    if platform is None or platform.runtime is not runtime:
        platform = Platform.for_runtime(runtime)
        request.app.state.platform = platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def page_of(
    items: list[dict[str, Any]],
    *,
    offset: int,
    limit: int,
    select: list[str] | None,
    response: Response,
    shape: Callable[[dict[str, Any]], dict[str, Any]] = dict,
) -> list[dict[str, Any]]:
    """One page of `items`, each `shape`d, only `select`'s keys; `X-Pagination-Next` names the next offset when
    more follow."""
    if offset + limit < len(items):
        response.headers["X-Pagination-Next"] = str(offset + limit)
    page = [shape(item) for item in items[offset : offset + limit]]
    return [{key: item[key] for key in select} for item in page] if select else page


def detail_response(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return FastJSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


class PlatformRoute(APIRoute):
    """A route whose errors (its own, auth's, request validation's, an unreachable database's) use the
    `{"detail": ...}` shape; `detail_errors` tells the app's error handlers to use it too."""

    detail_errors = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                detail = body_parse_problem(exc) if exc.status_code == 400 and exc.__cause__ else str(exc.detail)
                return detail_response(exc.status_code, detail, dict(exc.headers or {}))
            except RequestValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                    for e in exc.errors()
                ]
                summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
                return detail_response(422, summary, errors=errors)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                failure = database_unavailable_error(exc)
                return detail_response(failure.status, failure.message, failure.headers)

        return handle


def platform_router(tag: str) -> APIRouter:
    """A router of the LangGraph Server API: its routes answer errors as `{"detail": ...}` (`PlatformRoute`) and
    document `PLATFORM_ERRORS`."""
    return APIRouter(tags=[tag], route_class=PlatformRoute, responses=PLATFORM_ERRORS)
