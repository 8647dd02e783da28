"""Probes and metrics; open without an API key (the NetworkPolicy guards /metrics)."""

from __future__ import annotations

import logging

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


async def _readiness_problem(runtime: Runtime) -> str | None:
    if runtime.drain.draining:
        return "draining"
    try:
        problem = await runtime.database.schema_problem(check_schema=not runtime.schema_checked)
    except Exception as error:
        log.warning("readiness check failed: database unreachable", extra={"error": type(error).__name__})
        return "database unreachable"
    if problem is None:
        runtime.schema_checked = True
    return problem


@router.get(
    READY_PATH,
    response_model=HealthResponse,
    summary="Ready for traffic: database reachable through the pool, schema current, not draining",
    responses={503: {"model": HealthResponse}},
)
async def ready(runtime: RuntimeDep) -> Response:
    problem = await _readiness_problem(runtime)
    if problem is not None:
        return FastJSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return FastJSONResponse({"status": "ready"})


@router.get(METRICS_PATH, summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
