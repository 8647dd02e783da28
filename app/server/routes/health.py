"""Probes and metrics; open without an API key (the NetworkPolicy guards /metrics)."""

from __future__ import annotations

import asyncio
import logging
import time
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ...contract import HEALTH_PATH, METRICS_PATH, READY_PATH
from ..jsonio import FastJSONResponse
from ..models import HealthResponse
from ..runtime import Runtime, RuntimeDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get(HEALTH_PATH, response_model=HealthResponse, summary="The process is alive (no database call)")
async def health() -> Response:
    return FastJSONResponse({"status": "ok"})


READY_CACHE_SECONDS = 2.0
"""How long a "ready" answer is reused: probes and pollers cost one database check per pod per window."""


class _ReadinessCheck:
    """The last good check and the check in flight, so concurrent probes share one database round trip."""

    def __init__(self) -> None:
        self.ready_until = 0.0
        self.in_flight: asyncio.Task[str | None] | None = None


_checks: WeakKeyDictionary[object, _ReadinessCheck] = WeakKeyDictionary()


async def _check_database(runtime: Runtime) -> str | None:
    try:
        problem = await runtime.database.schema_problem(check_schema=not runtime.schema_checked)
    except Exception as error:
        log.warning("readiness check failed: database unreachable", extra={"error": type(error).__name__})
        return "database unreachable"
    if problem is None:
        runtime.schema_checked = True
    return problem


async def readiness_problem(runtime: Runtime) -> str | None:
    """Why this pod should not get traffic, or None. Draining shows at once; a problem is never cached."""
    if runtime.drain.draining:
        return "draining"
    check = _checks.setdefault(runtime, _ReadinessCheck())
    if time.monotonic() < check.ready_until:
        return None
    if check.in_flight is None:
        check.in_flight = asyncio.create_task(_check_database(runtime))
    task = check.in_flight
    try:
        problem = await asyncio.shield(task)
    finally:
        if check.in_flight is task and task.done():
            check.in_flight = None
    if problem is None:
        check.ready_until = time.monotonic() + READY_CACHE_SECONDS
    return problem


@router.get(
    READY_PATH,
    response_model=HealthResponse,
    summary="Ready for traffic: database reachable through the pool, schema current, not draining "
    f"(a ready answer is reused for {READY_CACHE_SECONDS:g}s)",
    responses={503: {"model": HealthResponse}},
)
async def ready(runtime: RuntimeDep) -> Response:
    problem = await readiness_problem(runtime)
    if problem is not None:
        return FastJSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return FastJSONResponse({"status": "ready"})


@router.get(METRICS_PATH, summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
