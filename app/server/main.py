"""The app factory: `create_app(settings)` builds the FastAPI app; its lifespan opens the process's runtime.

Startup: open the database (pool or SQLite), migrate (always for SQLite, for Postgres only with
`MIGRATE_ON_STARTUP`), load and compile the graphs once, start background stats, the run engine and the
cron scheduler. Shutdown: stop the scheduler, drain in-flight runs (bounded by `DRAIN_TIMEOUT_SECONDS`), stop
background work, close the pool.
To add an API, append its router to `app.server.routes.ROUTERS` (or pass `routers=`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from ..migrate import migrate_postgres, migrate_sqlite
from .auth import document_api_keys
from .engine.engine import Engine
from .errors import install_error_handlers
from .jsonio import FastJSONResponse
from .middleware import RequestMiddleware
from .platform_api.cron_scheduler import CronScheduler
from .pool import Database, open_database
from .registry import load_registry, load_store_index
from .routes import ROUTERS
from .runtime import Runtime
from .settings import Settings

log = logging.getLogger("app.server")


async def _migrate_on_startup(database: Database, settings: Settings) -> None:
    if database.sqlite is not None:
        await migrate_sqlite(database.sqlite)
        await database.store.setup()  # type: ignore[attr-defined] - the store's (vector) tables, before any request
    elif settings.migrate_on_startup and database.pool is not None:
        async with database.pool.connection() as conn:
            await migrate_postgres(conn, index=database.index)


def create_app(settings: Settings | None = None, routers: Sequence[APIRouter] = ROUTERS) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        index = load_store_index(settings.langgraph_config)
        async with open_database(settings, runtime.metrics.checkpoint_write_duration.observe, index) as database:
            await _migrate_on_startup(database, settings)
            registry = load_registry(settings.langgraph_config, database.saver, database.store)
            runtime.attach(database, registry)
            if database.pool is not None:
                runtime.metrics.watch_pool(database.pool)
                runtime.metrics.watch_checkpoint_store(database.pool, runtime.stats)
            runtime.stats.start()
            engine = Engine.for_runtime(runtime)
            app.state.engine = engine
            engine.start()
            scheduler = CronScheduler(runtime, engine)
            scheduler.start()
            log.info(
                "server started",
                extra={"database": database.kind, "graphs": registry.names(), "auth": bool(runtime.api_keys)},
            )
            try:
                yield
            finally:
                await scheduler.stop()
                await runtime.drain.drain(settings.drain_timeout_seconds)
                await engine.stop()
                await runtime.stats.stop()
                log.info("server stopped; closing the database")

    app = FastAPI(
        redirect_slashes=False,  # a redirect would be sent before auth, with a Location built from the Host header
        title="LangGraph server",
        summary="Runs the graphs listed in langgraph.json with a pooled Postgres checkpointer",
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    document_api_keys(app)
    for router in routers:
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            allow_credentials=True,
        )
    app.add_middleware(
        RequestMiddleware,
        metrics=runtime.metrics,
        max_body_bytes=settings.max_body_bytes,
        api_keys=runtime.api_keys,
        send_timeout=settings.sse_send_timeout_seconds,
    )
    return app
