"""Soak: 60 s at concurrency 16 with zero errors, bounded memory growth and no leaked connections."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import psutil
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from app.contract import METRICS_PATH, Env, Metrics
from app.server.pool import APPLICATION_NAME
from bench.driver import LoadResult, closed_loop
from tests.faults.conftest import STEPS, start_server, steps_body

CONCURRENCY = 16
WARMUP_SECONDS = 10.0
SOAK_SECONDS = 50.0  # after the warm-up: 60 s under load in all
MAX_RSS_GROWTH = 0.15
POOL_MAX = 10


def _pool_gauges(url: str) -> dict[str, float]:
    text = httpx.get(url + METRICS_PATH, timeout=5).text
    wanted = {Metrics.POOL_SIZE, Metrics.POOL_AVAILABLE, Metrics.POOL_WAITING, Metrics.POOL_MAX_SIZE}
    return {f.name: f.samples[0].value for f in text_string_to_metric_families(text) if f.name in wanted}


def _server_connections(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        return conn.execute(query, (APPLICATION_NAME,)).fetchone()[0]


async def _load(url: str, seconds: float, phase: str) -> LoadResult:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def run_once(thread_id: str) -> None:
            response = await client.post(f"{STEPS}/invoke", json=steps_body(thread_id))
            if response.status_code != 200 or response.json()["state"]["value"] != 4:
                raise AssertionError(f"{response.status_code}: {response.text[:200]}")

        return await closed_loop(phase, run_once, concurrency=CONCURRENCY, duration=seconds, warmup=0)


def test_sixty_seconds_at_concurrency_16(server_env: dict[str, str], tmp_path: Path) -> None:
    server = start_server({**server_env, Env.DB_POOL_MAX_SIZE: str(POOL_MAX)}, tmp_path)
    try:
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        warmup = asyncio.run(_load(server.url, WARMUP_SECONDS, "warm-up"))
        rss_warm = process.memory_info().rss
        soak = asyncio.run(_load(server.url, SOAK_SECONDS, "soak"))
        rss_end = process.memory_info().rss

        deadline = time.monotonic() + 5
        while (gauges := _pool_gauges(server.url))[Metrics.POOL_AVAILABLE] < gauges[Metrics.POOL_SIZE]:
            assert time.monotonic() < deadline, f"connections still checked out 5 s after the load: {gauges}"
            time.sleep(0.1)
        connections = _server_connections(server_env[Env.DATABASE_URL])
    finally:
        server.stop()

    for result in (warmup, soak):
        assert result.errors == 0, f"{result.name}: {result.errors} errors, first: {result.first_error}"
    assert soak.runs > SOAK_SECONDS * 5, f"only {soak.runs} runs in {SOAK_SECONDS}s: the soak did not load the server"
    growth = rss_end / rss_warm - 1
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth:.0%} ({rss_warm >> 20} -> {rss_end >> 20} MiB)"
    assert gauges[Metrics.POOL_WAITING] == 0, gauges
    assert gauges[Metrics.POOL_SIZE] <= gauges[Metrics.POOL_MAX_SIZE] == POOL_MAX, gauges
    assert connections == gauges[Metrics.POOL_SIZE], f"{connections} server connections in PostgreSQL, pool {gauges}"
