"""The per-process runtime every router shares: settings, database, graphs, metrics, drain state.

It lives at `app.state.runtime`; routers get it with `Depends(get_runtime)`. Graph runs go through
`runtime.run(graph)`, which refuses new runs while draining and records the run metrics, so any
router that runs graphs (this one, the LangGraph Server API) counts them the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from .drain import DrainState, RunCutAtShutdown
from .metrics import BackgroundStats, ServerMetrics
from .pool import Database
from .registry import GraphRegistry
from .settings import Settings

log = logging.getLogger("app.runs")


@dataclass
class RunRecord:
    """What a route tells the tracker about a run; `outcome` is one of `contract.RUN_OUTCOMES`."""

    graph: str
    outcome: str = "success"


class Runtime:
    """Everything a request needs, created once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        self.drain = DrainState()
        self.stats = BackgroundStats()
        self.api_keys = tuple(key.get_secret_value().encode() for key in settings.api_keys)
        self.schema_checked = False
        self._database: Database | None = None
        self._registry: GraphRegistry | None = None

    def attach(self, database: Database, registry: GraphRegistry) -> None:
        self._database, self._registry = database, registry

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("the server has not started: no database yet")
        return self._database

    @property
    def registry(self) -> GraphRegistry:
        if self._registry is None:
            raise RuntimeError("the server has not started: no graphs yet")
        return self._registry

    @asynccontextmanager
    async def run(self, graph: str) -> AsyncIterator[RunRecord]:
        """Admit a run (`ServerDraining` when shutting down), bound it by `MAX_RUN_SECONDS`, record its metrics.

        An exception leaving the block marks the run "error" (`MAX_RUN_SECONDS` passed: "timeout"; a cancellation
        or disconnect: "cancelled"); set `record.outcome = "interrupted"` when the graph paused. A run the drain
        cuts at shutdown leaves the block as `RunCutAtShutdown` (a `ServerDraining`), which the routes answer like
        a refused run.
        """
        task = asyncio.current_task()
        assert task is not None, "a run executes in a task"
        self.drain.begin_run(task)
        self.metrics.runs_in_flight.inc()
        record = RunRecord(graph)
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.max_run_seconds):
                yield record
        except TimeoutError:
            record.outcome = "timeout"
            raise
        except Exception:
            record.outcome = "error"
            raise
        except asyncio.CancelledError:
            record.outcome = "cancelled"
            if self.drain.was_cut(task):
                task.uncancel()
                raise RunCutAtShutdown from None
            raise
        except BaseException:  # a streaming client went away (GeneratorExit)
            record.outcome = "cancelled"
            raise
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.runs_in_flight.dec()
            self.drain.end_run(task)
            self.metrics.record_run(graph, record.outcome, elapsed)
            log.info("run finished", extra={"outcome": record.outcome, "duration_ms": round(elapsed * 1000, 2)})


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request."""
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
