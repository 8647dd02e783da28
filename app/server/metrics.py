"""Prometheus metrics of one server process; names come from `app.contract.Metrics` (the alerts use the same).

Each app gets its own `CollectorRegistry`, so several apps in one process (tests) do not collide.
Pool gauges are read from the pool's own stats at scrape time, costing nothing per request.
Gauges that need a database query (checkpoint size, oldest thread age) are refreshed by
`BackgroundStats`, a periodic task that other modules register callbacks with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from ..contract import RUN_OUTCOMES, Metrics
from ..retention import read_database_stats, refresh_database_stats

log = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` series: the alerts and dashboard do not use them

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
UNMATCHED_ROUTE = "<unmatched>"
# The `method` label's values: a request with any other method counts as OTHER_METHOD.
METHOD_LABELS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


class PoolCollector(Collector):
    """Connection pool gauges, read from `AsyncConnectionPool.get_stats()` when Prometheus scrapes."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.pool.get_stats()
        yield GaugeMetricFamily(Metrics.POOL_SIZE, "Connections open in the pool", value=stats["pool_size"])
        yield GaugeMetricFamily(Metrics.POOL_AVAILABLE, "Idle connections in the pool", value=stats["pool_available"])
        yield GaugeMetricFamily(
            Metrics.POOL_WAITING, "Clients queued for a connection", value=stats.get("requests_waiting", 0)
        )
        yield GaugeMetricFamily(Metrics.POOL_MAX_SIZE, "Configured pool maximum", value=stats["pool_max"])


class ServerMetrics:
    """The server's metrics, registered on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            Metrics.HTTP_REQUESTS, "HTTP requests by method, route template and status",
            ("method", "route", "status"), registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            Metrics.HTTP_DURATION, "HTTP request latency", ("method", "route"), buckets=LATENCY_BUCKETS, registry=r
        )
        self.runs = Counter(Metrics.RUNS, "Graph runs by graph and outcome", ("graph", "outcome"), registry=r)
        self.run_duration = Histogram(
            Metrics.RUN_DURATION, "Graph run duration", ("graph",), buckets=LATENCY_BUCKETS, registry=r
        )
        self.runs_in_flight = Gauge(Metrics.RUNS_IN_FLIGHT, "Graph runs executing in this process", registry=r)
        self.checkpoint_write_duration = Histogram(
            Metrics.CHECKPOINT_WRITE_DURATION, "Time to write a checkpoint or pending writes",
            buckets=WRITE_BUCKETS, registry=r,
        )  # fmt: skip
        # Labelled children by label values, so a request or run does not look its series up again; these hold
        # exactly the series the registry holds, so they are bounded the same way.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._run_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def watch_pool(self, pool: AsyncConnectionPool) -> None:
        self.registry.register(PoolCollector(pool))

    def watch_checkpoint_store(self, pool: AsyncConnectionPool, stats: BackgroundStats) -> None:
        """Export the checkpoint database's size and oldest thread age, refreshed by `stats` (not per scrape).

        The values are database-wide: one replica per interval computes them (`refresh_database_stats`), every
        replica reads and exports the stored result, so the alerts' `max()` sees them from any pod.
        """
        db_size = Gauge(Metrics.CHECKPOINT_DB_SIZE, "Size of the checkpoint database", registry=self.registry)
        oldest = Gauge(Metrics.OLDEST_THREAD_AGE, "Age of the oldest thread's last checkpoint", registry=self.registry)

        async def refresh() -> None:
            async with pool.connection() as conn:
                # A little under the tick, so a lone replica recomputes on each of its own ticks.
                await refresh_database_stats(conn, interval_seconds=stats.interval * 0.9)
                current = await read_database_stats(conn)
            if current is not None:
                db_size.set(current.database_size_bytes)
                oldest.set(current.oldest_thread_age_seconds())

        stats.add(refresh)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            series = (self.http_requests.labels(method, route, str(status)), self.http_duration.labels(method, route))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def record_run(self, graph: str, outcome: str, seconds: float) -> None:
        key = (graph, outcome)
        series = self._run_series.get(key)
        if series is None:
            if outcome not in RUN_OUTCOMES:
                raise ValueError(f"run outcome {outcome!r} is not one of {RUN_OUTCOMES}")
            series = (self.runs.labels(graph, outcome), self.run_duration.labels(graph))
            self._run_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


StatsCallback = Callable[[], Awaitable[None]]


class BackgroundStats:
    """Runs registered callbacks every `interval` seconds to refresh gauges that need a query.

    Issue #8's checkpoint size and oldest-thread-age gauges plug in here:
    `runtime.stats.add(callback)` during startup, where `callback` queries and sets its gauges.
    A failing callback is logged and retried at the next tick; it never stops the others.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._callbacks: list[StatsCallback] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, callback: StatsCallback) -> None:
        self._callbacks.append(callback)

    def start(self) -> None:
        if self._callbacks and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="background-stats")

    async def refresh(self) -> None:
        for callback in self._callbacks:
            try:
                await callback()
            except Exception:
                log.exception("background stats callback failed", extra={"callback": repr(callback)})

    async def _loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
