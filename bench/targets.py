"""What the benchmark drives: one `run_once(thread_id)` coroutine factory per way of running the graph.

All of them run the bundled three-step graph from `app/langgraph.json` with the same input; each call
uses the fresh thread id the driver hands it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph_sdk import get_client

from app.graphs import steps
from app.server.heap import freeze_startup_heap
from app.server.pool import open_database
from app.server.registry import load_registry
from app.server.settings import DEFAULT_LANGGRAPH_CONFIG, Settings

from .driver import RunOnce
from .http_client import lean_client

GRAPH_NAME = "steps"
GRAPH_INPUT = {"value": 1}
EXPECTED_VALUE = 4  # (1 + 1) * 2: a run that returns anything else counts as an error


def check(state: dict) -> None:
    """Raise unless `state` is the graph's expected final state."""
    if state.get("value") != EXPECTED_VALUE:
        raise AssertionError(f"unexpected final state {state!r}")


def official_graph_ref() -> str:
    """The same graph module the server loads, as `langgraph dev` wants it: "<file>:<attribute>"."""
    return f"{steps.__file__}:graph"


@asynccontextmanager
async def in_process_ceiling(database_url: str, pool_max_size: int | None = None) -> AsyncIterator[RunOnce]:
    """The graph compiled once on the server's own pool and checkpointer (`open_database`), called without HTTP."""
    overrides = {"DB_POOL_MAX_SIZE": pool_max_size} if pool_max_size else {}
    # Fixed here, not inherited from the server's defaults: no round trip per pool checkout (the server pays
    # for DB_POOL_CHECK_CONNECTIONS; the ceiling does not, so the ratio is not inflated by a slower ceiling).
    settings = Settings(DATABASE_URL=database_url, DB_POOL_CHECK_CONNECTIONS=False, **overrides)
    async with open_database(settings) as database:
        graph = load_registry(DEFAULT_LANGGRAPH_CONFIG, database.saver).get(GRAPH_NAME).graph
        freeze_startup_heap()  # the server's process settings, as it applies them once started

        async def run_once(thread_id: str) -> None:
            check(await graph.ainvoke(GRAPH_INPUT, {"configurable": {"thread_id": thread_id}}))

        yield run_once


@asynccontextmanager
async def our_http(base_url: str, concurrency: int) -> AsyncIterator[RunOnce]:
    """Our server's own API, `POST /graphs/steps/invoke` (also served by `bench.naive_app`).

    One lean keep-alive client (`bench.http_client`) for the whole measurement, at most `concurrency` connections,
    reused: the load generator shares the server's cores, so its own CPU per request is kept small.
    """
    async with lean_client(base_url, concurrency) as client:
        url = f"/graphs/{GRAPH_NAME}/invoke"

        async def run_once(thread_id: str) -> None:
            check((await client.post_json(url, {"input": GRAPH_INPUT, "thread_id": thread_id}))["state"])

        yield run_once


@asynccontextmanager
async def langgraph_sdk_wait(base_url: str, concurrency: int) -> AsyncIterator[RunOnce]:
    """The official `langgraph-sdk` client: `runs.wait` on a new thread created by the same request."""
    client = get_client(url=base_url, api_key=None, timeout=60.0)
    try:

        async def run_once(thread_id: str) -> None:
            state = await client.runs.wait(thread_id, GRAPH_NAME, input=GRAPH_INPUT, if_not_exists="create")
            check(state)

        yield run_once
    finally:
        await client.http.client.aclose()


@asynccontextmanager
async def langgraph_sdk_background(base_url: str, concurrency: int) -> AsyncIterator[RunOnce]:
    """Background runs through the official client: `runs.create` on a new thread, then `runs.join`."""
    client = get_client(url=base_url, api_key=None, timeout=60.0)
    try:

        async def run_once(thread_id: str) -> None:
            run = await client.runs.create(thread_id, GRAPH_NAME, input=GRAPH_INPUT, if_not_exists="create")
            check(await client.runs.join(thread_id, run["run_id"]))

        yield run_once
    finally:
        await client.http.client.aclose()
