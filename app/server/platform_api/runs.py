"""Runs of the LangGraph Server API: `runs.wait` and `runs.stream`, on a thread or stateless.

A run executes within the request, in its own task that feeds a queue: the response reads the queue
(SSE for `stream`, the last `values` for `wait`). The task always releases the thread and records the
outcome, even when the client is gone before the first byte; a client that disconnects cancels it.

Before the response starts, the handler resolves the assistant, claims the thread (409 if another run
holds it, on any pod) and registers the run with drain, so every refusal is a proper HTTP status.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Send, StateSnapshot
from sse_starlette import EventSourceResponse, ServerSentEvent

from ..drain import ServerDraining
from ..errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE,
    database_unavailable,
    error_body,
    run_failure,
)
from ..inputs import InvalidInput
from ..models import ThreadId
from ..registry import RegisteredGraph
from .context import Platform, PlatformDep, PlatformRoute, detail_response
from .models import NATIVE_STREAM_MODES, RunCommand, RunCreate, SendSpec
from .serde import dumps, interrupts_by_task, to_jsonable
from .store import ThreadBusy, ThreadNotFound

log = logging.getLogger(__name__)

router = APIRouter(tags=["runs"], route_class=PlatformRoute)

_DONE = object()
# Events a run may have produced and its client not yet taken; then the run waits for the client.
MAX_BUFFERED_EVENTS = 8


def _send(spec: SendSpec | str) -> Send | str:
    return spec if isinstance(spec, str) else Send(spec.node, spec.input)


def _command(command: RunCommand) -> Command:
    goto: Any = ()
    if isinstance(command.goto, list):
        goto = [_send(item) for item in command.goto]
    elif command.goto is not None:
        goto = _send(command.goto)
    update = command.update
    if isinstance(update, list):
        update = [tuple(pair) for pair in update]
    return Command(resume=command.resume, update=update, goto=goto)


@dataclass
class Run:
    """One run: what to execute and where its events go."""

    run_id: str
    thread_id: str
    graph: RegisteredGraph
    body: RunCreate
    stream_modes: list[str]
    keep_thread: bool  # False for a stateless run whose checkpoints are deleted afterwards
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(MAX_BUFFERED_EVENTS))
    error: BaseException | None = None  # why the run failed, once it has
    task: asyncio.Task[None] | None = None
    started: bool = False  # set by the task's first statement; a task cancelled before that never runs its cleanup
    abandoned: bool = False  # the client stopped reading; events are dropped from then on

    async def publish(self, item: Any) -> None:
        """Hand `item` to the client, waiting while `MAX_BUFFERED_EVENTS` are already waiting for it."""
        if not self.abandoned:
            await self.queue.put(item)

    def abandon(self) -> None:
        """The client is gone (or was closed for reading too slowly): drop its buffer and cancel the run."""
        self.abandoned = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.cancel()

    def cancel(self) -> None:
        """Cancel the run if it is executing (the client went away: `on_disconnect="cancel"`)."""
        if self.started and self.task is not None and not self.task.done():
            self.task.cancel()

    @property
    def content_location(self) -> str:
        if self.keep_thread:
            return f"/threads/{self.thread_id}/runs/{self.run_id}"
        return f"/runs/{self.run_id}"

    def config(self) -> RunnableConfig:
        body = self.body
        config: dict[str, Any] = dict(body.config or {})
        configurable = dict(config.get("configurable") or {})
        if body.checkpoint is not None:
            configurable["checkpoint_ns"] = body.checkpoint.checkpoint_ns
            if body.checkpoint.checkpoint_id:
                configurable["checkpoint_id"] = body.checkpoint.checkpoint_id
        if body.checkpoint_id:
            configurable["checkpoint_id"] = body.checkpoint_id
        configurable.update(
            thread_id=self.thread_id, run_id=self.run_id, graph_id=self.graph.name, assistant_id=self.graph.name
        )
        config["configurable"] = configurable
        config["metadata"] = {**(config.get("metadata") or {}), **(body.metadata or {})}
        config["run_id"] = uuid.UUID(self.run_id)
        return config  # type: ignore[return-value]

    def graph_input(self) -> Any:
        return _command(self.body.command) if self.body.command is not None else self.body.input


def _event_name(mode: str, namespace: tuple[str, ...]) -> str:
    mode = "messages" if mode == "messages-tuple" else mode
    return "|".join((mode, *namespace))


async def _graph_events(run: Run) -> AsyncIterator[tuple[str, Any]]:
    """The run's events as (SSE event name, data), from LangGraph's own stream modes or astream_events."""
    body = run.body
    wanted = set(run.stream_modes)
    native = [m for m in NATIVE_STREAM_MODES if m in wanted]
    if "messages-tuple" in wanted:
        native.append("messages")
    kwargs: dict[str, Any] = {
        "stream_mode": native or ["values"],
        "subgraphs": body.stream_subgraphs,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "context": body.context,
    }
    if body.durability is not None:
        kwargs["durability"] = body.durability
    elif body.checkpoint_during is not None:
        kwargs["durability"] = "async" if body.checkpoint_during else "exit"
    graph, config = run.graph.graph, run.config()

    def named(chunk: tuple[Any, ...]) -> tuple[str, Any] | None:
        namespace, mode, data = chunk if body.stream_subgraphs else ((), *chunk)
        if not native:  # only `events` was asked for; the values stream above just drives the graph
            return None
        return _event_name("messages-tuple" if mode == "messages" else mode, tuple(namespace)), data

    if "events" not in wanted:
        async for chunk in graph.astream(run.graph_input(), config, **kwargs):
            if (event := named(chunk)) is not None:
                yield event
        return
    async for event in graph.astream_events(run.graph_input(), config, version="v2", **kwargs):
        if event["event"] == "on_chain_stream" and event["run_id"] == run.run_id:
            if (named_event := named(event["data"]["chunk"])) is not None:
                yield named_event
        else:
            yield "events", event


async def _execute(platform: Platform, run: Run) -> None:
    """Run the graph under the server's run tracker, feed the queue, then settle the thread.

    `runtime.run` admits the run (drain), bounds it by MAX_RUN_SECONDS and records the run metrics.
    """
    run.started = True
    runtime = platform.runtime
    error: BaseException | None = None
    snapshot: StateSnapshot | None = None
    try:
        await run.publish(("metadata", {"run_id": run.run_id, "thread_id": run.thread_id, "attempt": 1}))
        try:
            async with runtime.run(run.graph.name) as record:
                try:
                    async for event in _graph_events(run):
                        await run.publish(event)
                except Exception as exc:
                    record.outcome, error = "error", exc
                else:
                    snapshot = await run.graph.graph.aget_state(_thread_config(run.thread_id))
                    if snapshot.next:
                        record.outcome = "interrupted"
        except TimeoutError:
            error = TimeoutError(f"run exceeded the {runtime.settings.max_run_seconds:g}s limit (MAX_RUN_SECONDS)")
        except ServerDraining as exc:
            error = exc
        if error is not None:
            run.error = error
            await run.publish(("error", _error_event(run, error, runtime.settings.max_run_seconds)))
    finally:
        try:
            await asyncio.shield(_settle(platform, run, snapshot, error))
        finally:
            await run.publish(_DONE)


def _error_event(run: Run, error: BaseException, max_run_seconds: float) -> dict[str, Any]:
    """The `error` event's data (and `__error__` of `runs.wait`): a code and a message, never exception text."""
    failure = run_failure(error, run.graph.name, run.thread_id, max_run_seconds)
    return error_body(failure.code, failure.message, error_id=failure.error_id)


def _thread_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


async def _settle(platform: Platform, run: Run, snapshot: StateSnapshot | None, error: BaseException | None) -> None:
    """Record the thread's status and latest state, or drop a stateless run's checkpoints."""
    try:
        if not run.keep_thread:
            await platform.runtime.database.saver.adelete_thread(run.thread_id)
            return
        if snapshot is None:
            snapshot = await run.graph.graph.aget_state(_thread_config(run.thread_id))
        status = "error" if error is not None else "interrupted" if snapshot.next else "idle"
        await platform.threads.finish(
            run.thread_id,
            run.run_id,
            status=status,
            values=to_jsonable(snapshot.values),
            interrupts=interrupts_by_task(snapshot),
        )
    except Exception:
        log.exception("could not record the run's outcome", extra={"run_id": run.run_id, "thread_id": run.thread_id})


async def _start(platform: Platform, thread_id: str | None, body: RunCreate, modes: list[str]) -> Run:
    """Resolve the assistant and claim the thread (404, 409, 503 before any byte is sent); start the run."""
    graph = platform.assistant(body.assistant_id)
    try:
        body.input = graph.inputs.validate_input(body.input)
        if body.command is not None:
            body.command.update = graph.inputs.validate_update(body.command.update, "command.update")
    except InvalidInput as error:
        raise HTTPException(422, str(error)) from None
    if platform.runtime.drain.draining:
        raise HTTPException(503, "the server is shutting down; retry on another replica", {"Retry-After": "1"})
    stateless = thread_id is None
    run = Run(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id or str(uuid.uuid4()),
        graph=graph,
        body=body,
        stream_modes=modes,
        keep_thread=not stateless or body.on_completion == "keep",
    )
    if run.keep_thread:
        try:
            await platform.threads.claim(
                run.thread_id,
                run.run_id,
                {"graph_id": graph.name, "assistant_id": graph.name},
                create=stateless or body.if_not_exists == "create",
            )
        except ThreadNotFound as error:
            raise HTTPException(404, f"{error}; create it first or pass if_not_exists='create'") from None
        except ThreadBusy as error:
            raise HTTPException(409, str(error)) from None
    run.task = asyncio.create_task(_execute(platform, run), name=f"run-{run.run_id}")
    return run


async def _events(run: Run) -> AsyncIterator[tuple[str, Any]]:
    while (item := await run.queue.get()) is not _DONE:
        yield item


def _stream_response(platform: Platform, run: Run) -> EventSourceResponse:
    async def frames() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event, data in _events(run):
                yield ServerSentEvent(data=dumps(data), event=event)
        finally:
            run.abandon()

    return EventSourceResponse(
        frames(),
        headers={"Content-Location": run.content_location},
        ping=max(1, int(platform.runtime.settings.sse_heartbeat_seconds)),
        send_timeout=platform.runtime.settings.sse_send_timeout_seconds,
    )


async def _wait_response(run: Run) -> Response:
    last_values: Any = None
    try:
        async for event, data in _events(run):
            if event == "values":
                last_values = data
            elif event == "error":
                last_values = {"__error__": data}
    finally:
        run.abandon()
    if run.error is not None and database_unavailable(run.error):
        return detail_response(503, DATABASE_UNAVAILABLE, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    return Response(
        dumps(last_values), media_type="application/json", headers={"Content-Location": run.content_location}
    )


@router.post("/threads/{thread_id}/runs/stream", response_class=EventSourceResponse)
async def stream_thread_run(thread_id: ThreadId, body: RunCreate, platform: PlatformDep):
    """Create a run on a thread and stream its events as SSE."""
    return _stream_response(platform, await _start(platform, thread_id, body, body.stream_modes))


@router.post("/runs/stream", response_class=EventSourceResponse)
async def stream_stateless_run(body: RunCreate, platform: PlatformDep):
    """Run on a temporary thread and stream its events as SSE."""
    return _stream_response(platform, await _start(platform, None, body, body.stream_modes))


@router.post("/threads/{thread_id}/runs/wait")
async def wait_thread_run(thread_id: ThreadId, body: RunCreate, platform: PlatformDep) -> Response:
    """Create a run on a thread and return its final values (with `__interrupt__` when it paused)."""
    return await _wait_response(await _start(platform, thread_id, body, ["values"]))


@router.post("/runs/wait")
async def wait_stateless_run(body: RunCreate, platform: PlatformDep) -> Response:
    """Run on a temporary thread and return its final values."""
    return await _wait_response(await _start(platform, None, body, ["values"]))
