"""Runs of the LangGraph Server API, a thin layer over the run engine (`app.server.engine`).

`runs.wait` and `runs.stream` execute in this process when the thread is free (no queue hop) and otherwise
wait for the run the multitask strategy queued; `runs.create` starts a background run. Every run is a record:
`runs.get/list/join/join_stream/cancel/delete` work from any replica. `on_disconnect="cancel"` (the default)
cancels the run when the client goes away; `"continue"` lets it finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Header, HTTPException, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from ..drain import ServerDraining
from ..engine.engine import Engine, EngineDep, LiveEvents, Outcome, RunRefused, RunSpec, error_event
from ..engine.schema import ACTIVE_STATUSES
from ..errors import DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE, database_unavailable
from ..inputs import InvalidInput
from ..models import ThreadId
from .context import Assistant, Platform, PlatformDep, detail_response, platform_router
from .models import MAX_BATCH_RUNS, MAX_OFFSET, MAX_PAGE, RunCreate, RunsCancel
from .serde import dumps, to_jsonable
from .store import ThreadNotFound

router = platform_router("runs")
RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]


def _refused(error: RunRefused) -> HTTPException:
    return HTTPException(error.status, error.message)


def _run_config(assistant: Assistant, config: dict[str, Any] | None, thread_metadata: dict[str, Any]) -> dict[str, Any]:
    """The assistant's config under the run's (`configurable` merged key by key), naming the assistant; the
    thread's metadata under both in `metadata`, so checkpoints carry it as on the official server."""
    base, override = assistant.record["config"] or {}, config or {}
    configurable = {**(base.get("configurable") or {}), **(override.get("configurable") or {})}
    configurable["assistant_id"] = assistant.assistant_id
    metadata = {**thread_metadata, **(base.get("metadata") or {}), **(override.get("metadata") or {})}
    return {**base, **override, "configurable": configurable, "metadata": metadata}


async def run_spec(
    platform: Platform, thread_id: str | None, body: RunCreate, modes: list[str], background: bool
) -> RunSpec:
    """Validate the body against the assistant's graph (404, 422) and describe the run with the assistant's
    config and context under the run's own."""
    if thread_id is None:
        assistant, thread_metadata = await platform.assistant(body.assistant_id), {}
    else:
        assistant, thread_metadata = await platform.assistant_and_thread_metadata(body.assistant_id, thread_id)
    graph = assistant.graph
    try:
        body.input = graph.inputs.validate_input(body.input)
        if body.command is not None:
            body.command.update = graph.inputs.validate_update(body.command.update, "command.update")
    except InvalidInput as error:
        raise HTTPException(422, str(error)) from None
    context = {**(assistant.record["context"] or {}), **(body.context or {})}
    checkpoint_ns, checkpoint_id = "", body.checkpoint_id
    if body.checkpoint is not None:
        checkpoint_ns = body.checkpoint.checkpoint_ns
        checkpoint_id = checkpoint_id or body.checkpoint.checkpoint_id
    durability = body.durability
    if durability is None and body.checkpoint_during is not None:
        durability = "async" if body.checkpoint_during else "exit"
    return RunSpec(
        graph=graph,
        thread_id=thread_id,
        input=body.input,
        command=body.command.model_dump(exclude_none=True) if body.command is not None else None,
        config=_run_config(assistant, body.config, thread_metadata),
        # As on the official server: the assistant's metadata, the run's own, which assistant ran and, for a run on
        # a thread, which graph the thread belongs to.
        metadata={
            **(assistant.record["metadata"] or {}),
            **(body.metadata or {}),
            "assistant_id": assistant.assistant_id,
            **({"graph_id": graph.name} if thread_id is not None else {}),
        },
        stream_modes=modes,
        stream_subgraphs=body.stream_subgraphs,
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        context=context or None,
        durability=durability,
        checkpoint_ns=checkpoint_ns,
        checkpoint_id=checkpoint_id,
        multitask_strategy=body.multitask_strategy,
        create_thread=thread_id is None or body.if_not_exists == "create",
        keep_thread=thread_id is None and body.on_completion == "keep",
        persist_events=background or body.stream_resumable or body.on_disconnect == "continue",
        require_interrupt=body.command is not None and body.command.resume is not None,
    )


async def _submit(engine: Engine, spec: RunSpec, *, start: bool) -> dict[str, Any]:
    try:
        return await engine.submit(spec, start=start)
    except RunRefused as error:
        raise _refused(error) from None
    except ServerDraining as error:
        raise HTTPException(503, str(error), {"Retry-After": "1"}) from None


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def run_response(run: dict[str, Any]) -> dict[str, Any]:
    """The client's `Run` shape, its `kwargs` as the official server reports them (the config the run executes
    with, `stream_mode`, `durability`, ...) rather than as the engine stores them."""
    kwargs = run.get("kwargs") or {}
    config = kwargs.get("config") or {}
    configurable = {
        **(config.get("configurable") or {}),
        "run_id": run["run_id"], "thread_id": run["thread_id"], "graph_id": run["graph_id"],
    }  # fmt: skip
    if kwargs.get("checkpoint_id"):
        configurable |= {"checkpoint_id": kwargs["checkpoint_id"], "checkpoint_ns": kwargs.get("checkpoint_ns", "")}
    metadata = run.get("metadata") or {}
    config_metadata = {**(config.get("metadata") or {}), **metadata}
    if run.get("attempts"):  # a worker has taken the run
        config_metadata["run_attempt"] = run["attempts"]
    durability = kwargs.get("durability") or "async"
    return {
        "run_id": run["run_id"],
        "thread_id": run["thread_id"],
        "assistant_id": configurable.get("assistant_id", run["graph_id"]),
        "created_at": _when(run.get("created_at")),
        "updated_at": _when(run.get("updated_at")),
        "status": run["status"],
        "metadata": metadata,
        "kwargs": {
            "input": kwargs.get("input"),
            "command": kwargs.get("command"),
            "config": {
                **config,
                "configurable": configurable,
                "metadata": config_metadata,
            },
            "context": kwargs.get("context") or {},
            "stream_mode": kwargs.get("stream_modes") or ["values"],
            "subgraphs": bool(kwargs.get("subgraphs")),
            "interrupt_before": kwargs.get("interrupt_before"),
            "interrupt_after": kwargs.get("interrupt_after"),
            "durability": durability,
            "checkpoint_during": durability != "exit",
            "resumable": bool(kwargs.get("persist_events")),
            "temporary": bool(run.get("temporary")),
            "webhook": None,
            "feedback_keys": None,
        },
        "multitask_strategy": run.get("multitask_strategy", "reject"),
        "langsmith_session_name": None,  # no LangSmith tracing project is attached to a run here
    }


def _locations(run: dict[str, Any], tail: str | None) -> dict[str, str]:
    """Content-Location names the run; Location (kept threads only) is where a cut-off client reconnects."""
    if run.get("temporary"):
        return {"Content-Location": f"/runs/{run['run_id']}"}
    path = f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    headers = {"Content-Location": path}
    if tail is not None:
        headers["Location"] = f"{path}/{tail}"
    return headers


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body has been read, so only `http.disconnect` arrives)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _until_done_or_gone(request: Request, work: asyncio.Future[Any]) -> bool:
    """Wait for `work`; False if the client disconnected first."""
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    return work.done()


async def _thread_values(platform: Platform, run: dict[str, Any]) -> Any:
    """What `join` returns: the thread's latest values, or `{"__error__": ...}` if the run failed."""
    if run["status"] in ("error", "timeout") and run.get("error"):
        return {"__error__": {"error": "run_" + run["status"], "message": run["error"]}}
    try:
        return (await platform.threads.get(run["thread_id"]))["state_values"]
    except LookupError:
        return None


def _outcome_body(outcome: Outcome) -> Any:
    if outcome.failed:
        return {"__error__": error_event(outcome)}
    if outcome.interrupts:  # `response_schema`: the official server's field for typed answers, not offered here
        interrupts = [{**interrupt, "response_schema": None} for interrupt in to_jsonable(outcome.interrupts)]
        return {**(outcome.values or {}), "__interrupt__": interrupts}
    return outcome.values


async def _wait(
    request: Request, platform: Platform, engine: Engine, thread_id: str | None, body: RunCreate
) -> Response:
    spec = await run_spec(platform, thread_id, body, ["values"], background=False)
    run = await _submit(engine, spec, start=True)
    headers = _locations(run, "join")
    if run["status"] == "running":
        work: asyncio.Future[Any] = asyncio.ensure_future(engine.execute(run))
    else:
        work = asyncio.ensure_future(engine.join(run["run_id"]))
    if not await _until_done_or_gone(request, work):
        if body.on_disconnect == "cancel":
            with contextlib.suppress(RunRefused):
                await engine.cancel(run["run_id"], None, "interrupt")
        return Response(status_code=499)
    result = work.result()
    if isinstance(result, Outcome):
        if result.error is not None and database_unavailable(result.error):
            return detail_response(503, DATABASE_UNAVAILABLE, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
        if isinstance(result.error, RunRefused):
            return detail_response(result.error.status, result.error.message)
        if isinstance(result.error, ServerDraining):
            return detail_response(503, str(result.error), {"Retry-After": "1"})
        payload = _outcome_body(result)
    else:
        payload = await _thread_values(platform, result)
    return Response(dumps(payload), media_type="application/json", headers=headers)


async def _live_events(engine: Engine, run: dict[str, Any], on_disconnect: str) -> AsyncIterator[ServerSentEvent]:
    """Execute the run here and send its events as they come; the client leaving cancels it (unless continue)."""
    live = LiveEvents(engine, run)
    try:
        yield ServerSentEvent(data=dumps({"run_id": run["run_id"], "attempt": 1}), event="metadata")
        async for event, data in live:
            yield ServerSentEvent(data=dumps(data), event=event)
        outcome = await live.task
        if outcome.failed:
            yield ServerSentEvent(data=dumps(error_event(outcome)), event="error")
    finally:
        live.close(cancel=on_disconnect == "cancel")


async def _recorded_events(engine: Engine, run_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    async for seq, event, data in engine.stream(run_id, after):
        if event == "end":
            continue
        yield ServerSentEvent(data=data, event=event, id=str(seq))


def _last_event_id(value: str | None) -> int:
    if value is None or value == "":
        return 0
    try:
        return max(0, int(value))
    except ValueError:
        raise HTTPException(
            422, f"Last-Event-ID must be an event id this server sent (an integer), got {value!r}"
        ) from None


def _sse(events: AsyncIterator[ServerSentEvent], platform: Platform, headers: dict[str, str]) -> EventSourceResponse:
    settings = platform.runtime.settings
    return EventSourceResponse(
        events,
        headers=headers,
        ping=max(1, int(settings.sse_heartbeat_seconds)),
        send_timeout=settings.sse_send_timeout_seconds,  # a client that stops reading is closed
    )


async def _stream(platform: Platform, engine: Engine, thread_id: str | None, body: RunCreate) -> EventSourceResponse:
    spec = await run_spec(platform, thread_id, body, body.stream_modes, background=False)
    run = await _submit(engine, spec, start=True)
    if run["status"] == "running" and not spec.persist_events:
        return _sse(_live_events(engine, run, body.on_disconnect), platform, _locations(run, None))
    if run["status"] == "running":
        engine.spawn(run)
    return _sse(_recorded_events(engine, run["run_id"], 0), platform, _locations(run, "stream"))


@router.post("/threads/{thread_id}/runs/stream", response_class=EventSourceResponse)
async def stream_thread_run(thread_id: ThreadId, body: RunCreate, platform: PlatformDep, engine: EngineDep):
    """Create a run on a thread and stream its events as SSE."""
    return await _stream(platform, engine, thread_id, body)


@router.post("/runs/stream", response_class=EventSourceResponse)
async def stream_stateless_run(body: RunCreate, platform: PlatformDep, engine: EngineDep):
    """Run on a temporary thread and stream its events as SSE."""
    return await _stream(platform, engine, None, body)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_thread_run(
    thread_id: ThreadId, body: RunCreate, request: Request, platform: PlatformDep, engine: EngineDep
) -> Response:
    """Create a run on a thread and return its final values (with `__interrupt__` when it paused)."""
    return await _wait(request, platform, engine, thread_id, body)


@router.post("/runs/wait")
async def wait_stateless_run(body: RunCreate, request: Request, platform: PlatformDep, engine: EngineDep) -> Response:
    """Run on a temporary thread and return its final values."""
    return await _wait(request, platform, engine, None, body)


async def _create(platform: Platform, engine: Engine, thread_id: str | None, body: RunCreate) -> Response:
    spec = await run_spec(platform, thread_id, body, body.stream_modes, background=True)
    run = await _submit(engine, spec, start=True)
    if run["status"] == "running":
        engine.spawn(run)
    stored = await engine.get(run["run_id"])
    return Response(dumps(run_response(stored)), media_type="application/json", headers=_locations(run, None))


@router.post("/threads/{thread_id}/runs")
async def create_thread_run(thread_id: ThreadId, body: RunCreate, platform: PlatformDep, engine: EngineDep):
    """Start a background run on a thread; follow it with get, join, join_stream, cancel."""
    return await _create(platform, engine, thread_id, body)


@router.post("/runs")
async def create_stateless_run(body: RunCreate, platform: PlatformDep, engine: EngineDep):
    """Start a background run on a new thread (kept: its id is in the response, so it can be followed)."""
    body.on_completion = "keep"
    return await _create(platform, engine, None, body)


@router.post("/runs/batch")
async def create_stateless_run_batch(
    bodies: Annotated[list[RunCreate], Body(min_length=1, max_length=MAX_BATCH_RUNS)],
    platform: PlatformDep,
    engine: EngineDep,
) -> Response:
    """Start one background run on a new thread per body; every body is checked before any run starts."""
    specs = []
    for index, body in enumerate(bodies):
        body.on_completion = "keep"
        try:
            specs.append(await run_spec(platform, None, body, body.stream_modes, background=True))
        except HTTPException as error:
            raise HTTPException(error.status_code, f"[{index}]: {error.detail}") from None
    started = []
    for spec in specs:
        run = await _submit(engine, spec, start=True)
        if run["status"] == "running":
            engine.spawn(run)
        started.append(run_response(await engine.get(run["run_id"])))
    return Response(dumps(started), media_type="application/json")


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: RunStatus | None = None,
) -> list[dict[str, Any]]:
    """The thread's runs, newest first."""
    return [run_response(run) for run in await engine.list(thread_id, limit=limit, offset=offset, status=status)]


async def _get(engine: Engine, run_id: str, thread_id: str) -> dict[str, Any]:
    try:
        return await engine.get(run_id, thread_id)
    except RunRefused as error:
        raise _refused(error) from None


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, engine: EngineDep) -> dict[str, Any]:
    return run_response(await _get(engine, run_id, thread_id))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, platform: PlatformDep, engine: EngineDep) -> Response:
    """Wait for the run to end (on any replica) and return the thread's values."""
    await _get(engine, run_id, thread_id)
    run = await engine.join(run_id, thread_id)
    return Response(dumps(await _thread_values(platform, run)), media_type="application/json")


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=EventSourceResponse)
async def join_run_stream(
    thread_id: str,
    run_id: str,
    platform: PlatformDep,
    engine: EngineDep,
    last_event_id: Annotated[str | None, Header()] = None,
):
    """The run's events (from any replica), after `Last-Event-ID` when reconnecting."""
    run = await _get(engine, run_id, thread_id)
    after = _last_event_id(last_event_id)
    return _sse(_recorded_events(engine, run_id, after), platform, _locations(run, "stream"))


@router.get("/threads/{thread_id}/stream", response_class=EventSourceResponse)
async def join_thread_stream(
    thread_id: str,
    platform: PlatformDep,
    engine: EngineDep,
    last_event_id: Annotated[str | None, Header()] = None,
):
    """The events of the thread's current run (pending or running), if it has one."""
    try:
        await platform.threads.get(thread_id)
    except ThreadNotFound as error:
        raise HTTPException(404, str(error)) from None
    runs = await engine.list(thread_id, limit=MAX_PAGE, offset=0, status=None)
    active = [run for run in runs if run["status"] in ("pending", "running")]
    if not active:
        return _sse(_no_events(), platform, {})
    run = active[-1]
    return _sse(_recorded_events(engine, run["run_id"], _last_event_id(last_event_id)), platform, _locations(run, None))


async def _no_events() -> AsyncIterator[ServerSentEvent]:
    return
    yield  # an async generator that ends at once


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str,
    run_id: str,
    platform: PlatformDep,
    engine: EngineDep,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Cancel a pending or running run on any replica; `wait` returns once it has stopped."""
    try:
        await engine.cancel(run_id, thread_id, action)
    except RunRefused as error:
        raise _refused(error) from None
    if wait:  # like `join`: what the run left (the official server answers the last values it streamed)
        values = await _thread_values(platform, await engine.join(run_id, thread_id))
        return Response(dumps(values), media_type="application/json")
    return Response(status_code=202)


@router.post("/runs/cancel", status_code=204)
async def cancel_runs(
    body: RunsCancel, engine: EngineDep, action: Literal["interrupt", "rollback"] = "interrupt"
) -> Response:
    """Cancel a thread's runs by id, or every pending and/or running run (`status`), on any replica."""
    try:
        if body.status is not None:
            statuses = ACTIVE_STATUSES if body.status == "all" else (body.status,)
            await engine.cancel_by_status(statuses, action)
        else:
            await engine.cancel_many(body.run_ids or [], body.thread_id or "", action)
    except RunRefused as error:
        raise _refused(error) from None
    return Response(status_code=204)


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(thread_id: str, run_id: str, engine: EngineDep) -> Response:
    """Delete a finished run's record (a pending or running one is a 409: cancel it first)."""
    try:
        await engine.delete(run_id, thread_id)
    except RunRefused as error:
        raise _refused(error) from None
    return Response(status_code=204)
