"""Crons of the LangGraph Server API: a schedule and the run to create on it, fired by `cron_scheduler`.

A stateless cron (`crons.create`) runs each time on a new thread, deleted when the run completes unless
`on_run_completed="keep"`, as on LangGraph Platform; a thread cron (`crons.create_for_thread`) runs on its
thread with its `multitask_strategy`. The run part of a request is checked as `runs.create` checks it (assistant,
input, unsupported fields) when the cron is created or updated, so a firing does not fail on it later.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Response
from pydantic import ValidationError

from ..engine.engine import RunSpec
from ..models import ThreadId
from .context import Platform, PlatformDep, page_of, platform_router
from .cron_store import CronNotFound, InvalidSchedule, cron_response, first_run
from .models import CRON_FIELDS, CronCount, CronCreate, CronPatch, CronSearch, RunCreate
from .runs import run_spec
from .store import ThreadNotFound

router = platform_router("crons")


def _cron_id(cron_id: str) -> str:
    try:
        return str(uuid.UUID(cron_id))
    except ValueError:
        raise HTTPException(422, f"Invalid cron ID {cron_id!r}: must be a UUID") from None


def _utc(when: datetime | None) -> datetime | None:
    """A time the client sent; one without a zone is UTC."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _first_run(schedule: str, timezone: str | None) -> datetime:
    try:
        return first_run(schedule, timezone)
    except InvalidSchedule as error:
        raise HTTPException(422, str(error)) from None


async def cron_run(
    platform: Platform, thread_id: str | None, payload: dict[str, Any], metadata: dict[str, Any]
) -> RunSpec:
    """The run a cron's `payload` describes (its run fields, the cron's `metadata`), checked as `runs.create`
    checks it (404 for a missing assistant, 422 otherwise)."""
    run = {key: value for key, value in payload.items() if key not in CRON_FIELDS}
    try:
        body = RunCreate.model_validate({**run, "metadata": metadata})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
        raise HTTPException(422, problems) from None
    return await run_spec(platform, thread_id, body, body.stream_modes, background=True)


async def _create(platform: Platform, thread_id: str | None, body: CronCreate) -> dict[str, Any]:
    first = _first_run(body.schedule, body.timezone)
    if thread_id is not None:
        if body.on_run_completed is not None:
            raise HTTPException(422, "on_run_completed applies to stateless crons only (crons.create)")
        try:
            await platform.threads.get(thread_id)
        except ThreadNotFound as error:
            raise HTTPException(404, str(error)) from None
    cron_id = str(uuid.uuid4())
    payload = body.payload()
    payload["assistant_id"] = (await platform.assistant(body.assistant_id)).assistant_id
    config = payload.setdefault("config", {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    await cron_run(platform, thread_id, payload, body.metadata or {})
    now = datetime.now(UTC)
    fields = {
        "cron_id": cron_id, "assistant_id": payload["assistant_id"], "thread_id": thread_id, "user_id": None,
        "schedule": body.schedule, "timezone": body.timezone, "payload": payload, "metadata": body.metadata or {},
        "on_run_completed": None if thread_id is not None else body.on_run_completed or "delete",
        "enabled": body.enabled, "end_time": _utc(body.end_time),
        "next_run_date": first, "created_at": now, "updated_at": now,
    }  # fmt: skip
    return cron_response(await platform.crons.create(fields))


@router.post("/runs/crons")
async def create_cron(body: CronCreate, platform: PlatformDep) -> dict[str, Any]:
    """Schedule a run on a new thread each time (deleted after the run unless `on_run_completed="keep"`)."""
    return await _create(platform, None, body)


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(thread_id: ThreadId, body: CronCreate, platform: PlatformDep) -> dict[str, Any]:
    """Schedule a run on the thread (its `multitask_strategy` decides what a busy thread means)."""
    return await _create(platform, thread_id, body)


async def _cron(platform: Platform, cron_id: str) -> dict[str, Any]:
    try:
        return await platform.crons.get(_cron_id(cron_id))
    except CronNotFound as error:
        raise HTTPException(404, str(error)) from None


@router.get("/runs/crons/{cron_id}")
async def get_cron(cron_id: str, platform: PlatformDep) -> dict[str, Any]:
    """A cron by id (the official route; the client has no method for it)."""
    return cron_response(await _cron(platform, cron_id))


@router.patch("/runs/crons/{cron_id}")
async def update_cron(cron_id: str, body: CronPatch, platform: PlatformDep) -> dict[str, Any]:
    """Change a cron: a new schedule or time zone moves its next run; `metadata` merges; run fields replace."""
    given = body.model_fields_set
    if not given:
        raise HTTPException(400, "nothing to update: send at least one field")
    current = await _cron(platform, cron_id)
    cron_id = current["cron_id"]
    changes: dict[str, Any] = {}
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if "end_time" in given:  # null clears it
        changes["end_time"] = _utc(body.end_time)
    if body.on_run_completed is not None:
        if current["thread_id"] is not None:
            raise HTTPException(422, "on_run_completed applies to stateless crons only (crons.create)")
        changes["on_run_completed"] = body.on_run_completed
    if body.schedule is not None or body.timezone is not None:
        schedule = body.schedule or current["schedule"]
        timezone = body.timezone or current["timezone"]
        changes |= {"schedule": schedule, "timezone": timezone, "next_run_date": _first_run(schedule, timezone)}
    if body.metadata is not None:
        changes["metadata"] = {**current["metadata"], **body.metadata}
    payload = {**current["payload"], **body.model_dump(mode="json", exclude_unset=True)}
    config = payload.get("config") or {}
    payload["config"] = {**config, "configurable": {**(config.get("configurable") or {}), "cron_id": cron_id}}
    await cron_run(platform, current["thread_id"], payload, changes.get("metadata", current["metadata"]))
    changes["payload"] = payload
    try:
        return cron_response(await platform.crons.update(cron_id, changes))
    except CronNotFound as error:
        raise HTTPException(404, str(error)) from None


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, platform: PlatformDep) -> Response:
    try:
        await platform.crons.delete(_cron_id(cron_id))
    except CronNotFound as error:
        raise HTTPException(404, str(error)) from None
    return Response(status_code=204)


async def _matching(platform: Platform, body: CronCount, enabled: bool | None = None) -> list[dict[str, Any]]:
    assistant_id = platform.assistant_id(body.assistant_id) if body.assistant_id else None
    return await platform.crons.search(
        assistant_id=assistant_id, thread_id=body.thread_id, enabled=enabled, metadata=body.metadata
    )


@router.post("/runs/crons/search")
async def search_crons(body: CronSearch, response: Response, platform: PlatformDep) -> list[dict[str, Any]]:
    """Crons by assistant, thread, enabled and metadata; newest first unless `sort_by`; `X-Pagination-Next` gives
    the next offset."""
    found = [cron_response(row) for row in await _matching(platform, body, body.enabled)]
    sort_by = body.sort_by or "created_at"
    found.sort(key=lambda cron: (cron[sort_by] is not None, cron[sort_by] or ""), reverse=body.sort_order != "asc")
    return page_of(found, offset=body.offset, limit=body.limit, select=body.select, response=response)


@router.post("/runs/crons/count")
async def count_crons(body: CronCount, platform: PlatformDep) -> int:
    """How many crons match the assistant, thread and metadata filters."""
    return len(await _matching(platform, body))
