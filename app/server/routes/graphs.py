"""The graph API: list graphs, invoke, stream (SSE), resume, read and update state, history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from langgraph.errors import InvalidUpdateError
from langgraph.types import StateSnapshot
from sse_starlette import EventSourceResponse, ServerSentEvent

from ...contract import Env
from ..auth import API_KEY_SCHEMES
from ..drain import ServerDraining
from ..engine.engine import (
    CheckpointMissing,
    Engine,
    EngineDep,
    GraphMismatch,
    LiveEvents,
    NotPaused,
    Outcome,
    RunRefused,
    RunSpec,
    ThreadBusy,
    ThreadMissing,
)
from ..errors import ApiError, ErrorBody, error_body, run_failure
from ..inputs import InvalidInput
from ..jsonio import FastJSONResponse, dumps
from ..logs import graph_var, thread_id_var
from ..models import (
    THREAD_ID_MAX_LENGTH,
    THREAD_ID_PATTERN,
    GraphsResponse,
    HistoryResponse,
    InvokeRequest,
    ResumeRequest,
    RunConfig,
    RunResponse,
    StateResponse,
    StateUpdateRequest,
    StateUpdateResponse,
    StreamRequest,
)
from ..registry import RegisteredGraph
from ..runtime import Runtime, RuntimeDep

HISTORY_MAX_LIMIT = 100

router = APIRouter(
    prefix="/graphs",
    tags=["graphs"],
    dependencies=API_KEY_SCHEMES,
    responses={
        400: {"model": ErrorBody, "description": "The body is not JSON (or not UTF-8), or the graph rejects it"},
        401: {"model": ErrorBody, "description": "API keys are configured and none (or a wrong one) was sent"},
        404: {"model": ErrorBody, "description": "No such graph; the message lists the available ones"},
        422: {"model": ErrorBody, "description": "Malformed body or parameter; the message names the field"},
        503: {"model": ErrorBody, "description": "The server is draining, or the database is unreachable"},
    },
)
_RUN_ERRORS = {
    409: {"model": ErrorBody, "description": "A run holds the thread, or the thread belongs to another graph"},
    413: {"model": ErrorBody, "description": "Body larger than MAX_BODY_BYTES"},
    500: {"model": ErrorBody, "description": "The graph raised; the error id is in the server log"},
    503: {"model": ErrorBody, "description": "The server is draining for shutdown, or the database is unreachable"},
    504: {"model": ErrorBody, "description": "The run exceeded MAX_RUN_SECONDS"},
}
ThreadIdQuery = Query(min_length=1, max_length=THREAD_ID_MAX_LENGTH, pattern=THREAD_ID_PATTERN)


def _graph(runtime: Runtime, name: str, thread_id: str | None = None) -> RegisteredGraph:
    registered = runtime.registry.get(name)
    graph_var.set(name)
    if thread_id is not None:
        thread_id_var.set(thread_id)
    return registered


def _config(thread_id: str, config: RunConfig | None = None) -> dict[str, Any]:
    result = config.model_dump(exclude_none=True) if config else {}
    result["configurable"] = {**result.get("configurable", {}), "thread_id": thread_id}
    return result


def _interrupts(interrupts: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"id": item.id, "value": item.value} for item in interrupts]


def _snapshot(thread_id: str, snapshot: StateSnapshot) -> dict[str, Any]:
    parent = snapshot.parent_config["configurable"].get("checkpoint_id") if snapshot.parent_config else None
    return {
        "thread_id": thread_id,
        "values": snapshot.values,
        "next": list(snapshot.next),
        "interrupts": _interrupts(snapshot.interrupts),
        "checkpoint_id": snapshot.config["configurable"].get("checkpoint_id"),
        "parent_checkpoint_id": parent,
        "created_at": snapshot.created_at,
        "metadata": snapshot.metadata,
    }


def _invalid_input(error: InvalidInput) -> ApiError:
    return ApiError(422, "invalid_input", str(error), error.errors)


def _checked_input(registered: RegisteredGraph, payload: Any) -> Any:
    try:
        return registered.inputs.validate_input(payload)
    except InvalidInput as error:
        raise _invalid_input(error) from None


def _refused(error: RunRefused) -> ApiError:
    return ApiError(error.status, _REFUSAL_CODES.get(type(error), "conflict"), error.message)


_REFUSAL_CODES = {
    ThreadBusy: "thread_busy",
    GraphMismatch: "thread_of_another_graph",
    ThreadMissing: "thread_not_found",
    CheckpointMissing: "checkpoint_not_found",
    NotPaused: "not_paused",
}


def _run_failed(runtime: Runtime, registered: RegisteredGraph, thread_id: str, outcome: Outcome) -> ApiError:
    """Turn a failed run into the client's error; graph internals stay in the log (under an error id)."""
    assert outcome.error is not None
    if isinstance(outcome.error, RunRefused):
        return _refused(outcome.error)
    return run_failure(outcome.error, registered.name, thread_id, runtime.settings.max_run_seconds)


def _spec(registered: RegisteredGraph, thread_id: str, payload: Any, config: RunConfig | None, **extra: Any) -> RunSpec:
    return RunSpec(
        graph=registered,
        thread_id=thread_id,
        config=config.model_dump(exclude_none=True) if config else None,
        **({"input": payload} | extra),
    )


async def _submit(engine: Engine, spec: RunSpec) -> dict[str, Any]:
    try:
        return await engine.submit(spec, start=True)
    except RunRefused as error:
        raise _refused(error) from None


async def _run(runtime: Runtime, engine: Engine, registered: RegisteredGraph, spec: RunSpec) -> Response:
    run = await _submit(engine, spec)
    outcome = await engine.execute(run)
    if outcome.error is not None:
        raise _run_failed(runtime, registered, run["thread_id"], outcome)
    body = {
        "thread_id": run["thread_id"],
        "status": outcome.status,
        "state": outcome.values,
        "interrupts": _interrupts(outcome.interrupts),
    }
    return FastJSONResponse(body)


@router.get("", response_model=GraphsResponse, summary="The graphs this server runs")
async def list_graphs(runtime: RuntimeDep) -> Response:
    graphs = [
        {"name": g.name, "description": g.description, "nodes": sorted(n for n in g.nodes if not n.startswith("__"))}
        for g in runtime.registry.graphs.values()
    ]
    return FastJSONResponse({"graphs": graphs})


@router.post(
    "/{name}/invoke",
    response_model=RunResponse,
    responses=_RUN_ERRORS,
    summary="Run the graph on a thread to the end, or until it pauses at interrupt()",
)
async def invoke(name: str, request: InvokeRequest, runtime: RuntimeDep, engine: EngineDep) -> Response:
    registered = _graph(runtime, name, request.thread_id)
    payload = _checked_input(registered, request.input)
    return await _run(runtime, engine, registered, _spec(registered, request.thread_id, payload, request.config))


@router.post(
    "/{name}/resume",
    response_model=RunResponse,
    responses={**_RUN_ERRORS, 409: {"model": ErrorBody, "description": "The thread is not paused, or is busy"}},
    summary="Resume a thread paused at interrupt(); `resume` is what interrupt() returns",
)
async def resume(name: str, request: ResumeRequest, runtime: RuntimeDep, engine: EngineDep) -> Response:
    registered = _graph(runtime, name, request.thread_id)
    spec = _spec(
        registered, request.thread_id, None, request.config, command={"resume": request.resume},
        require_interrupt=True,
    )  # fmt: skip
    return await _run(runtime, engine, registered, spec)


@router.post(
    "/{name}/stream",
    summary="Run the graph and stream its steps as Server-Sent Events",
    description=(
        "One event per chunk of the requested stream mode (event name = the mode, data = JSON), then an `end` "
        "event with the status and interrupts, or an `error` event. A `: heartbeat` comment is sent every "
        f"{Env.SSE_HEARTBEAT_SECONDS} seconds so proxies keep idle streams open."
    ),
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 409: _RUN_ERRORS[409], 503: _RUN_ERRORS[503]},
)
async def stream(name: str, request: StreamRequest, runtime: RuntimeDep, engine: EngineDep) -> EventSourceResponse:
    registered = _graph(runtime, name, request.thread_id)
    if runtime.drain.draining:
        raise ServerDraining("the server is shutting down; retry on another replica")
    payload = _checked_input(registered, request.input)
    mode = request.stream_mode
    # "updates" also carries the interrupts; "messages" here is LangGraph's own: (message chunk, metadata) pairs
    native = "messages-tuple" if mode == "messages" else mode
    modes = [native] if mode == "updates" else [native, "updates"]
    run = await _submit(engine, _spec(registered, request.thread_id, payload, request.config, stream_modes=modes))
    return EventSourceResponse(
        _stream_events(runtime, engine, registered, run, mode),
        ping=runtime.settings.sse_heartbeat_seconds,
        send_timeout=runtime.settings.sse_send_timeout_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
    )


async def _stream_events(
    runtime: Runtime, engine: Engine, registered: RegisteredGraph, run: dict[str, Any], mode: str
) -> AsyncIterator[ServerSentEvent]:
    graph_var.set(registered.name)
    thread_id_var.set(run["thread_id"])
    live = LiveEvents(engine, run)
    try:
        async for event, data in live:
            if event == mode:
                yield ServerSentEvent(event=mode, data=dumps(data).decode())
        outcome = await live.task
    finally:
        live.close(cancel=True)
    if outcome.error is not None:
        failure = _run_failed(runtime, registered, run["thread_id"], outcome)
        body = error_body(failure.code, failure.message, error_id=failure.error_id)
        yield ServerSentEvent(event="error", data=dumps(body).decode())
        return
    end = {"thread_id": run["thread_id"], "status": outcome.status, "interrupts": _interrupts(outcome.interrupts)}
    yield ServerSentEvent(event="end", data=dumps(end).decode())


@router.get(
    "/{name}/state",
    response_model=StateResponse,
    responses={404: {"model": ErrorBody, "description": "No such graph, or the thread has no state"}},
    summary="The thread's latest state",
)
async def get_state(name: str, thread_id: Annotated[str, ThreadIdQuery], runtime: RuntimeDep) -> Response:
    registered = _graph(runtime, name, thread_id)
    snapshot = await registered.graph.aget_state(_config(thread_id))
    if snapshot.created_at is None:
        raise ApiError(404, "thread_not_found", f"thread {thread_id!r} of graph {name!r} has no state")
    return FastJSONResponse(_snapshot(thread_id, snapshot))


@router.post(
    "/{name}/state",
    response_model=StateUpdateResponse,
    responses={
        400: {"model": ErrorBody, "description": "The graph has no such node, or rejects the update"},
        409: {"model": ErrorBody, "description": "A run holds the thread, or the thread belongs to another graph"},
    },
    summary="Write values to the thread's state as if node `as_node` returned them",
)
async def update_state(name: str, request: StateUpdateRequest, runtime: RuntimeDep, engine: EngineDep) -> Response:
    registered = _graph(runtime, name, request.thread_id)
    if request.as_node is not None and request.as_node not in registered.nodes:
        available = ", ".join(sorted(registered.nodes))
        raise ApiError(400, "unknown_node", f"graph {name!r} has no node {request.as_node!r}; nodes: {available}")
    try:
        values = registered.inputs.validate_update(request.values)
    except InvalidInput as error:
        raise _invalid_input(error) from None
    try:
        async with engine.hold(request.thread_id, registered, create=True):
            config = await registered.graph.aupdate_state(_config(request.thread_id), values, as_node=request.as_node)
    except RunRefused as error:
        raise _refused(error) from None
    except InvalidUpdateError as error:
        raise ApiError(400, "invalid_update", f"graph {name!r} rejected the update: {error}") from None
    return FastJSONResponse({"thread_id": request.thread_id, "checkpoint_id": config["configurable"]["checkpoint_id"]})


@router.get("/{name}/history", response_model=HistoryResponse, summary="The thread's past states, newest first")
async def history(
    name: str,
    thread_id: Annotated[str, ThreadIdQuery],
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX_LIMIT)] = 10,
) -> Response:
    registered = _graph(runtime, name, thread_id)
    states = [
        _snapshot(thread_id, snapshot)
        async for snapshot in registered.graph.aget_state_history(_config(thread_id), limit=limit)
    ]
    return FastJSONResponse({"thread_id": thread_id, "states": states})
