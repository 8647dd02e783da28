"""The run engine: every graph run of both HTTP APIs is a record in the `runs` table and executes here.

- `submit` records a run. With the thread free and `start=True` the run is `running` at once, leased to
  this process, and the caller executes it (`execute`) without a queue hop; otherwise it is `pending` and
  a worker takes it. The multitask strategy decides what a busy thread means (see `store`).
- Every process runs a worker: it takes pending runs (`FOR UPDATE SKIP LOCKED`), renews the lease of the
  runs it executes, cancels those whose cancellation was requested from any pod, and turns runs whose
  lease expired (their process died) back to `pending`, to be resumed from their last checkpoint, up to
  `RUN_MAX_ATTEMPTS`; then they are `error` with the reason. A draining process takes no new work.
- Background runs (and resumable streams) write their events to `run_events`, so a client can join the
  stream from any pod and resume after `Last-Event-ID`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Send
from prometheus_client import Counter, Gauge, Histogram

from ...contract import Metrics
from ..drain import ServerDraining
from ..errors import database_unavailable, new_error_id
from ..platform_api.models import NATIVE_STREAM_MODES
from ..platform_api.serde import MessageEvents, debug_event, dumps, interrupts_by_task, to_jsonable
from ..pool import NEW_THREAD, NewThread
from ..registry import GraphNotFound, RegisteredGraph, default_assistant_id
from ..runtime import Runtime
from .store import TERMINAL_STATUSES, PostgresRunStore, RunStore, SqliteRunStore

log = logging.getLogger("app.runs")

LANGGRAPH_STREAM_MODES = (*NATIVE_STREAM_MODES, "messages")
WORKER_POLL_SECONDS = 0.5
JOIN_POLL_SECONDS = 0.05
EVENT_POLL_SECONDS = 0.1
FINISH_RETRY_SECONDS = 0.5

Sink = Callable[[str, Any], Awaitable[None]]
LEASE_EXPIRY_OUTCOMES = {"pending": "retried", "error": "exhausted", "interrupted": "cancelled"}
"""The `outcome` label of the lease-expiry counter for each status an expired run is given."""
MAX_BUFFERED_EVENTS = 8
"""Events of a live stream that may wait for its client; past this the run waits for the client to read."""


class RunRefused(Exception):
    """A run or a thread operation the engine refuses; `status` is the HTTP status that says why."""

    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ThreadBusy(RunRefused):
    def __init__(self, thread_id: str, active_run: str | None) -> None:
        super().__init__(
            f"thread {thread_id!r} is busy with run {active_run!r}; wait for it (runs.join), or send "
            "multitask_strategy 'enqueue', 'interrupt' or 'rollback'"
        )


class GraphMismatch(RunRefused):
    def __init__(self, thread_id: str, bound: str, requested: str) -> None:
        super().__init__(
            f"thread {thread_id!r} belongs to graph {bound!r}; it cannot run graph {requested!r} (use a new thread id)"
        )


class ThreadMissing(RunRefused):
    status = 404

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id!r} not found; create it first or pass if_not_exists='create'")


class CheckpointMissing(RunRefused):
    status = 404

    def __init__(self, thread_id: str, checkpoint_id: str) -> None:
        super().__init__(f"checkpoint {checkpoint_id!r} of thread {thread_id!r} not found")


class NotPaused(RunRefused):
    def __init__(self, thread_id: str, graph: str) -> None:
        super().__init__(f"thread {thread_id!r} of graph {graph!r} is not paused at an interrupt")


class RunMissing(RunRefused):
    status = 404

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} not found")


@dataclass
class RunSpec:
    """What to run. `thread_id=None` runs on a temporary thread, deleted afterwards unless `keep_thread`."""

    graph: RegisteredGraph
    thread_id: str | None
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    stream_modes: list[str] = field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    context: dict[str, Any] | None = None
    durability: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    multitask_strategy: str = "reject"
    create_thread: bool = True
    keep_thread: bool = False
    persist_events: bool = False  # background runs and resumable streams: events go to `run_events`
    require_interrupt: bool = False  # a resume: refused (NotPaused) unless the thread is paused when it starts


@dataclass
class Outcome:
    """How a run ended: `status` is the run's; `values` its last state; `interrupts` pending `Interrupt`s."""

    run_id: str
    thread_id: str
    status: str
    values: Any = None
    interrupts: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    error_id: str | None = None

    @property
    def failed(self) -> bool:
        """The client is told of an error: the run failed, or the server shut down under it (not a cancel)."""
        return self.error is not None and (self.status != "interrupted" or isinstance(self.error, ServerDraining))


@dataclass
class _Local:
    """A run started in this process; `task` is None until something executes it."""

    run: dict[str, Any]
    task: asyncio.Task[Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_action: str | None = None  # interrupt | rollback | shutdown | lease_lost
    finishing: bool = False  # the outcome is being recorded; no cancellation any more
    started_at: float = field(default_factory=time.monotonic)
    new_thread: bool = False  # its submit created its thread


def _send(spec: Any) -> Any:
    return Send(spec["node"], spec.get("input")) if isinstance(spec, dict) else spec


@contextlib.contextmanager
def _marking_new_thread(run: dict[str, Any], new_thread: bool) -> Iterator[None]:
    """Within: the saver answers the run's first root read of its thread without the database when the run's
    submit created the thread (`NEW_THREAD`; the saver still reads a given checkpoint or namespace), except for a
    resumed attempt (it reads what the first one wrote). Any other run gets no marker, whatever its caller's
    context held."""
    fresh = new_thread and run.get("attempts", 1) <= 1
    token = NEW_THREAD.set(NewThread(run["thread_id"]) if fresh else None)
    try:
        yield
    finally:
        NEW_THREAD.reset(token)


def graph_input(kwargs: dict[str, Any]) -> Any:
    """The graph's input from a stored run: its input, or a `Command` rebuilt from JSON."""
    command = kwargs.get("command")
    if command is None:
        return kwargs.get("input")
    goto = command.get("goto")
    goto = [_send(item) for item in goto] if isinstance(goto, list) else () if goto is None else _send(goto)
    update = command.get("update")
    if isinstance(update, list):
        update = [tuple(pair) for pair in update]
    return Command(resume=command.get("resume"), update=update, goto=goto)


KEEP_STATUS = "keep_status"  # run metadata of a `hold` (a state update, never a graph run): the status to leave


class EngineMetrics:
    def __init__(self, runtime: Runtime) -> None:
        registry = runtime.metrics.registry
        self.pending = Gauge(Metrics.RUNS_PENDING, "Runs waiting for a worker (whole deployment)", registry=registry)
        self.queue_wait = Histogram(
            Metrics.RUN_QUEUE_WAIT_DURATION, "Time from a run's creation to a worker taking it", registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )  # fmt: skip
        lease_expiries = Counter(
            Metrics.RUN_LEASE_EXPIRIES,
            "Runs whose worker stopped renewing the lease, by what became of them: retried (pending again, to "
            "resume elsewhere), exhausted (error: RUN_MAX_ATTEMPTS reached) or cancelled (a cancellation was asked)",
            ["outcome"], registry=registry,
        )  # fmt: skip
        # one series per outcome, created up front so a rate over them exists before the first expiry
        self.lease_expiries = {
            status: lease_expiries.labels(outcome) for status, outcome in LEASE_EXPIRY_OUTCOMES.items()
        }
        self.retries = Counter(Metrics.RUN_RETRIES, "Runs resumed by a worker after a lease expiry", registry=registry)


class Engine:
    """One per process; `start()` after the database opens, `stop()` after the drain."""

    def __init__(self, runtime: Runtime, store: RunStore) -> None:
        self.runtime = runtime
        self.store = store
        settings = runtime.settings
        self.lease = timedelta(seconds=settings.run_lease_seconds)
        self.max_attempts = settings.run_max_attempts
        self.concurrency = settings.worker_concurrency
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.metrics = EngineMetrics(runtime)
        self._local: dict[str, _Local] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Engine:
        database = runtime.database
        if database.pool is not None:
            return cls(runtime, PostgresRunStore(database.pool))
        assert database.sqlite is not None
        return cls(runtime, SqliteRunStore(database.sqlite, database.saver.lock))  # type: ignore[attr-defined]

    # ---- submitting and executing ----

    async def submit(self, spec: RunSpec, *, start: bool) -> dict[str, Any]:
        """Record a run; `start` asks to run it here at once when its thread is free. Returns the run with its
        `status`: `running` (the caller must `execute` it) or `pending` (a worker will)."""
        if self.runtime.drain.draining:
            raise ServerDraining("the server is shutting down; retry on another replica")
        return await self._submit(spec, start)

    async def _submit(self, spec: RunSpec, start: bool) -> dict[str, Any]:
        temporary = spec.thread_id is None and not spec.keep_thread
        thread_id = spec.thread_id or str(uuid.uuid4())
        if spec.checkpoint_id is not None:
            await self._require_checkpoint(thread_id, spec)
        config = dict(spec.config or {})  # the thread's metadata and the run name the assistant, as officially
        config["configurable"] = {
            "assistant_id": default_assistant_id(spec.graph.name),
            **(config.get("configurable") or {}),
        }
        run = {
            "run_id": str(uuid.uuid4()),
            "thread_id": thread_id,
            "graph_id": spec.graph.name,
            "multitask_strategy": spec.multitask_strategy,
            "temporary": temporary,
            "metadata": spec.metadata,
            "kwargs": {
                "input": spec.input, "command": spec.command, "config": config,
                "stream_modes": spec.stream_modes, "subgraphs": spec.stream_subgraphs,
                "interrupt_before": spec.interrupt_before, "interrupt_after": spec.interrupt_after,
                "context": spec.context, "durability": spec.durability, "checkpoint_ns": spec.checkpoint_ns,
                "checkpoint_id": spec.checkpoint_id, "persist_events": spec.persist_events,
                "require_interrupt": spec.require_interrupt,
            },
        }  # fmt: skip
        decided = await self.store.submit(
            run, create_thread=spec.create_thread or spec.thread_id is None, start=start,
            worker=self.worker_id, lease=self.lease,
        )  # fmt: skip
        if decided.outcome == "busy":
            raise ThreadBusy(thread_id, decided.active_run)
        if decided.outcome == "graph_conflict":
            raise GraphMismatch(thread_id, decided.bound_graph or "?", spec.graph.name)
        if decided.outcome == "thread_not_found":
            raise ThreadMissing(thread_id)
        if decided.outcome == "started":
            run["status"] = "running"
            self._local[run["run_id"]] = _Local(run, new_thread=decided.created_thread)
        else:
            run["status"] = "pending"
            if decided.active_run is not None and spec.multitask_strategy in ("interrupt", "rollback"):
                self._cancel_local(decided.active_run, spec.multitask_strategy)
            self._wake.set()
        run["attempts"] = 1
        return run

    @contextlib.asynccontextmanager
    async def hold(
        self, thread_id: str, graph: RegisteredGraph, *, create: bool, keep_status: str | None = None
    ) -> AsyncIterator[None]:
        """Hold a thread for a state update exactly as a run holds it (busy, another graph's, missing: refused);
        afterwards record the thread's new values, and its status: `keep_status` (the official server's state
        updates leave a thread's status alone) or, without one, the status its state implies. The hold leaves no
        run record."""
        metadata = {"state_update": True, KEEP_STATUS: keep_status}
        spec = RunSpec(graph=graph, thread_id=thread_id, metadata=metadata, create_thread=create)
        run = await self.submit(spec, start=True)
        try:
            yield
        finally:
            settled = Outcome(run["run_id"], thread_id, "interrupted")  # "not success": the state is read back
            await asyncio.shield(self._finish(run, settled, None))
            with contextlib.suppress(Exception):
                await self.store.delete(run["run_id"])

    def spawn(self, run: dict[str, Any]) -> None:
        """Execute a run this process started (`submit(start=True)`) in the background, like a worker does."""
        self._launch(run)

    async def _require_checkpoint(self, thread_id: str, spec: RunSpec) -> None:
        assert spec.checkpoint_id is not None
        config = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": spec.checkpoint_ns,
                             "checkpoint_id": spec.checkpoint_id}
        }  # fmt: skip
        if await self.runtime.database.saver.aget_tuple(config) is None:  # type: ignore[arg-type]
            raise CheckpointMissing(thread_id, spec.checkpoint_id)

    def _config(self, run: dict[str, Any]) -> RunnableConfig:
        kwargs = run["kwargs"]
        config: dict[str, Any] = dict(kwargs.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        if kwargs.get("checkpoint_ns"):
            configurable["checkpoint_ns"] = kwargs["checkpoint_ns"]
        if kwargs.get("checkpoint_id") and run.get("attempts", 1) <= 1:
            configurable["checkpoint_id"] = kwargs["checkpoint_id"]
        configurable.setdefault("assistant_id", default_assistant_id(run["graph_id"]))
        configurable.update(thread_id=run["thread_id"], run_id=run["run_id"], graph_id=run["graph_id"])
        config["configurable"] = configurable
        config["metadata"] = {
            **(config.get("metadata") or {}), **(run.get("metadata") or {}), "run_attempt": run.get("attempts") or 1
        }  # fmt: skip
        config["run_id"] = uuid.UUID(run["run_id"])
        return config  # type: ignore[return-value]

    async def _input(self, run: dict[str, Any], graph: RegisteredGraph) -> Any:
        """A first attempt gets its input; a resumed one continues from its last checkpoint if it wrote one."""
        if run.get("attempts", 1) > 1:
            thread = {"configurable": {"thread_id": run["thread_id"], "checkpoint_ns": ""}}
            async for _ in self.runtime.database.saver.alist(thread, filter={"run_id": run["run_id"]}, limit=1):  # type: ignore[arg-type]
                return None
        return graph_input(run["kwargs"])

    async def _events(
        self, graph: RegisteredGraph, run: dict[str, Any], config: RunnableConfig
    ) -> AsyncIterator[tuple[str, Any]]:
        """The run's events as (event name, data), from LangGraph's stream modes or astream_events, named and shaped
        as the official server sends them (`values` always comes: it carries the outcome)."""
        kwargs = run["kwargs"]
        wanted = list(kwargs.get("stream_modes") or ["values"])
        native = [m for m in LANGGRAPH_STREAM_MODES if m in wanted or m == "values"]
        tuples = "messages-tuple" in wanted
        if tuples and "messages" not in native:
            native.append("messages")
        subgraphs = bool(kwargs.get("subgraphs"))
        options: dict[str, Any] = {
            "stream_mode": native, "subgraphs": subgraphs, "interrupt_before": kwargs.get("interrupt_before"),
            "interrupt_after": kwargs.get("interrupt_after"), "context": kwargs.get("context"),
        }  # fmt: skip
        if kwargs.get("durability"):
            options["durability"] = kwargs["durability"]
        payload = await self._input(run, graph)
        messages = MessageEvents()

        def named(chunk: tuple[Any, ...]) -> list[tuple[str, Any]]:
            namespace, mode, data = chunk if subgraphs else ((), *chunk)
            if mode == "messages" and not tuples:
                return messages.events(data)  # messages/* events name no namespace, as on the official server
            if mode == "debug":
                data = debug_event(data)
            return [("|".join((mode, *namespace)), data)]

        if "events" not in wanted:
            async for chunk in graph.graph.astream(payload, config, **options):
                for event in named(chunk):
                    yield event
            return
        async for event in graph.graph.astream_events(payload, config, version="v2", **options):
            if event["event"] == "on_chain_stream" and event["run_id"] == run["run_id"]:
                for named_event in named(event["data"]["chunk"]):
                    yield named_event
            else:
                yield "events", event

    async def execute(self, run: dict[str, Any], sink: Sink | None = None) -> Outcome:
        """Run a `running` run of this process to its end, feed `sink` the requested events, record the outcome.

        A graph error is logged with an error id and returned (never raised); cancelling the calling task
        cancels the run (it is recorded `interrupted`) and re-raises.
        """
        run_id, thread_id = run["run_id"], run["thread_id"]
        local = self._local.setdefault(run_id, _Local(run))
        local.task = asyncio.current_task()
        outcome = Outcome(run_id, thread_id, "success")
        try:
            graph = self.runtime.registry.get(run["graph_id"])
        except GraphNotFound as error:
            outcome.status, outcome.error = "error", error
            await self._finish(run, outcome, None)
            return outcome
        wanted = set(run["kwargs"].get("stream_modes") or ["values"])
        events = None
        if run["kwargs"].get("persist_events"):
            events = _EventLog(
                self.store, run_id, await self.store.last_seq(run_id) if run.get("attempts", 1) > 1 else 0
            )
        paused = False
        try:
            if events is not None:
                await events.add("metadata", {"run_id": run_id, "attempt": run.get("attempts", 1)})
            if run["kwargs"].get("require_interrupt") and run.get("attempts", 1) <= 1:
                snapshot = await graph.graph.aget_state({"configurable": {"thread_id": thread_id}})
                if not snapshot.interrupts:
                    raise NotPaused(thread_id, graph.name)
            with _marking_new_thread(run, local.new_thread):
                async with self.runtime.run(graph.name) as record:
                    async for name, data in self._events(graph, run, self._config(run)):
                        if name == "values" and isinstance(data, dict):
                            if "__interrupt__" in data:
                                data = dict(data)
                                outcome.interrupts = list(data.pop("__interrupt__"))
                                paused = True
                            outcome.values = data
                        # `_events` sends `events` and messages only when asked, `values` always (for the outcome)
                        if name.split("|", 1)[0] in wanted or name == "events" or name.startswith("messages"):
                            if sink is not None:
                                await sink(name, data)
                            if events is not None:
                                await events.add(name, data)
                    if paused or run["kwargs"].get("interrupt_before") or run["kwargs"].get("interrupt_after"):
                        record.outcome = "interrupted"
                        paused = True
            outcome.status = "interrupted" if paused else "success"
        except asyncio.CancelledError:
            outcome.status = "interrupted"
            if local.cancel_action == "shutdown":
                await asyncio.shield(self.store.requeue(run_id, self.worker_id))
                self._forget(run_id)
                raise
            if local.cancel_action == "lease_lost":  # another worker has taken the run over
                self._forget(run_id)
                raise
            outcome.error = RuntimeError(f"run cancelled ({local.cancel_action or 'client disconnected'})")
            await asyncio.shield(self._finish(run, outcome, events, rollback=local.cancel_action == "rollback"))
            raise
        except ServerDraining as error:  # refused by a drain that began after submit, or cut at shutdown
            outcome.status, outcome.error = "interrupted", error
        except TimeoutError as error:
            outcome.status, outcome.error = "timeout", error
        except NotPaused as error:
            outcome.status, outcome.error = "error", error
        except Exception as error:
            outcome.status, outcome.error = "error", error
            if not database_unavailable(error):
                outcome.error_id = new_error_id()
                log.exception(
                    "run failed", extra={"run_id": run_id, "thread_id": thread_id, "error_id": outcome.error_id}
                )
        local.finishing = True
        if outcome.error is not None and database_unavailable(outcome.error):
            # the client gets its 503 now; the outcome is recorded once the database answers (or the lease lapses)
            self._track(asyncio.create_task(self._record_when_back(run, outcome, False), name=f"finish-{run_id}"))
        else:
            await asyncio.shield(self._finish(run, outcome, events))
        return outcome

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish(
        self, run: dict[str, Any], outcome: Outcome, events: _EventLog | None, *, rollback: bool = False
    ) -> None:
        """Record the outcome and wake joiners. While the database is unreachable the caller is not held up: the
        record is retried in the background for at most a lease (after that, the lease expiry settles the run)."""
        if events is not None:
            with contextlib.suppress(Exception):
                await events.add("end" if outcome.error is None else "error", self._end_event(outcome))
        try:
            await self._record(run, outcome, rollback)
        except Exception as error:
            if database_unavailable(error):
                self._track(asyncio.create_task(self._record_when_back(run, outcome, rollback)))
                return
            log.exception("could not record the run's outcome", extra={"run_id": run["run_id"]})
        self._forget(run["run_id"])

    async def _record_when_back(self, run: dict[str, Any], outcome: Outcome, rollback: bool) -> None:
        deadline = time.monotonic() + self.lease.total_seconds()
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(FINISH_RETRY_SECONDS)
                try:
                    await self._record(run, outcome, rollback)
                    return
                except Exception as error:
                    if not database_unavailable(error):
                        log.exception("could not record the run's outcome", extra={"run_id": run["run_id"]})
                        return
            log.warning("database still unreachable; the run's lease will settle it", extra={"run_id": run["run_id"]})
        finally:
            self._forget(run["run_id"])

    def _end_event(self, outcome: Outcome) -> dict[str, Any]:
        if outcome.error is None:
            return {"status": outcome.status}
        return error_event(outcome)

    async def _record(self, run: dict[str, Any], outcome: Outcome, rollback: bool) -> None:
        graph = self.runtime.registry.graphs.get(run["graph_id"])
        values: Any = None
        interrupts: dict[str, Any] = {}
        thread_status = "idle"
        if run.get("temporary"):
            await self.runtime.database.saver.adelete_thread(run["thread_id"])
        elif rollback:
            await self.store.rollback(run["run_id"], run["thread_id"])
        if graph is not None and not run.get("temporary") and (outcome.status != "success" or rollback):
            snapshot = await graph.graph.aget_state({"configurable": {"thread_id": run["thread_id"]}})
            values, interrupts = to_jsonable(snapshot.values), interrupts_by_task(snapshot)
            thread_status = "interrupted" if snapshot.next else "idle"
            kept = (run.get("metadata") or {}).get(KEEP_STATUS)
            if kept in ("idle", "interrupted", "error"):  # not "busy": a run ended between the read and the hold
                thread_status = kept
        elif outcome.status == "success":
            values = outcome.values  # encoded once, by the store (serde.dumps knows LangGraph types)
        if outcome.status in ("error", "timeout") and not isinstance(outcome.error, RunRefused):
            thread_status = "error"
        error = None
        if outcome.error is not None:
            error = error_event(outcome)["message"]
        await self.store.finish(
            run["run_id"], self.worker_id, status=outcome.status, error=error, thread_status=thread_status,
            values=values, interrupts=interrupts, temporary=bool(run.get("temporary")),
        )  # fmt: skip

    def _forget(self, run_id: str) -> None:
        local = self._local.pop(run_id, None)
        if local is not None:
            local.done.set()

    # ---- reading and controlling runs ----

    async def get(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        run = await self.store.get(run_id)
        if run is None or (thread_id is not None and run["thread_id"] != thread_id):
            raise RunMissing(run_id)
        return run

    async def list(self, thread_id: str, *, limit: int, offset: int, status: str | None) -> list[dict[str, Any]]:
        return await self.store.list(thread_id, limit=limit, offset=offset, status=status)

    async def join(self, run_id: str, thread_id: str | None = None) -> dict[str, Any]:
        """Wait until the run has ended (executing here or on any other pod) and return its record."""
        deadline = time.monotonic() + (self.runtime.settings.max_run_seconds + self.lease.total_seconds()) * (
            self.max_attempts + 1
        )
        while True:
            local = self._local.get(run_id)
            if local is not None:
                await local.done.wait()
            run = await self.get(run_id, thread_id)
            if run["status"] in TERMINAL_STATUSES or time.monotonic() > deadline:
                return run
            await asyncio.sleep(JOIN_POLL_SECONDS)

    async def cancel(self, run_id: str, thread_id: str | None, action: str = "interrupt") -> dict[str, Any]:
        """Cancel a pending or running run on any pod; `rollback` also removes what it wrote."""
        await self.get(run_id, thread_id)
        run = await self.store.cancel(run_id, action)
        if run is None:
            raise RunMissing(run_id)
        self._cancel_local(run_id, action)
        return run

    async def cancel_many(self, run_ids: list[str], thread_id: str, action: str = "interrupt") -> None:
        """Cancel each of the thread's runs in `run_ids`; an unknown one is a `RunMissing` before any is cancelled."""
        for run_id in run_ids:
            await self.get(run_id, thread_id)
        for run_id in run_ids:
            await self.cancel(run_id, thread_id, action)

    async def cancel_by_status(self, statuses: tuple[str, ...], action: str = "interrupt") -> int:
        """Cancel every run, on any thread, whose status is one of `statuses`; how many were asked to stop."""
        run_ids = await self.store.active(statuses)
        for run_id in run_ids:
            if await self.store.cancel(run_id, action) is not None:
                self._cancel_local(run_id, action)
        return len(run_ids)

    def _cancel_local(self, run_id: str, action: str) -> None:
        local = self._local.get(run_id)
        if local is not None and local.task is not None and not local.task.done() and not local.finishing:
            local.cancel_action = action
            local.task.cancel()

    async def delete(self, run_id: str, thread_id: str | None) -> None:
        await self.get(run_id, thread_id)
        if not await self.store.delete(run_id):
            raise RunRefused(f"run {run_id!r} is still pending or running; cancel it first")

    async def stream(self, run_id: str, after: int = 0) -> AsyncIterator[tuple[int, str, str]]:
        """The run's recorded events after sequence number `after`, as (seq, event, JSON data), until it ends."""
        deadline = time.monotonic() + (self.runtime.settings.max_run_seconds + self.lease.total_seconds()) * (
            self.max_attempts + 1
        )
        while time.monotonic() < deadline:
            rows = await self.store.events_after(run_id, after)
            for seq, event, data in rows:
                after = seq
                yield seq, event, data
            if rows:
                continue
            run = await self.store.get(run_id)
            if run is None or run["status"] in TERMINAL_STATUSES:
                for seq, event, data in await self.store.events_after(run_id, after):
                    yield seq, event, data
                return
            await asyncio.sleep(EVENT_POLL_SECONDS)

    # ---- the worker ----

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name="run-worker"),
            asyncio.create_task(self._keep_leases(), name="run-leases"),
        ]

    async def stop(self) -> None:
        """Stop taking work; hand back the runs still executing here (they resume on another pod)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        for run_id in list(self._local):
            self._cancel_local(run_id, "shutdown")
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    async def _work(self) -> None:
        while True:
            try:
                self._wake.clear()
                if not self.runtime.drain.draining and len(self._background) < self.concurrency:
                    run = await self.store.take(self.worker_id, self.lease)
                    if run is not None:
                        self._launch(run)
                        continue
            except Exception as error:
                log.warning("worker could not take a run", extra={"error": f"{type(error).__name__}: {error}"[:300]})
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can swallow a cancellation (3.11)
                async with asyncio.timeout(WORKER_POLL_SECONDS):
                    await self._wake.wait()

    def _launch(self, run: dict[str, Any]) -> None:
        if "waited_seconds" in run:
            self.metrics.queue_wait.observe(max(0.0, float(run["waited_seconds"] or 0)))
        if run["attempts"] > 1:
            self.metrics.retries.inc()
            log.info(
                "resuming a run whose worker was lost", extra={"run_id": run["run_id"], "attempts": run["attempts"]}
            )
        local = self._local.get(run["run_id"])
        if local is None:  # taken from the queue
            local = self._local[run["run_id"]] = _Local(run)
        local.task = asyncio.create_task(self._execute_background(run), name=f"run-{run['run_id']}")
        self._track(local.task)

    async def _execute_background(self, run: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.execute(run)
        self._wake.set()

    async def _release_unexecuted(self) -> None:
        """Runs started here that nothing executed for a whole lease (their client left before the response
        began) are recorded `interrupted`, so they do not hold their thread while this process renews leases."""
        limit = time.monotonic() - self.lease.total_seconds()
        for run_id, local in list(self._local.items()):
            if local.task is None and local.started_at < limit:
                log.warning("run never executed; releasing its thread", extra={"run_id": run_id})
                outcome = Outcome(run_id, local.run["thread_id"], "interrupted")
                outcome.error = RuntimeError("the client went away before the run began")
                await self._finish(local.run, outcome, None)

    async def _keep_leases(self) -> None:
        """Renew this process's leases, apply cancellations asked on other pods, expire abandoned runs."""
        interval = min(1.0, self.lease.total_seconds() / 3)
        while True:
            try:
                await self._release_unexecuted()
                if self._local:
                    executing = [run_id for run_id, local in self._local.items() if not local.finishing]
                    requested = await self.store.heartbeat(self.worker_id, self.lease, executing) if executing else {}
                    for run_id in executing:
                        if run_id not in requested:  # the lease lapsed (database outage) and another worker took it
                            self._cancel_local(run_id, "lease_lost")
                        elif action := requested[run_id]:
                            self._cancel_local(run_id, action)
                expired = await self.store.expire(self.max_attempts)
                for run in expired:
                    self.metrics.lease_expiries[run.status].inc()
                    log.warning("run lease expired", extra={"run_id": run.run_id, "now": run.status})
                if expired:
                    self._wake.set()
                self.metrics.pending.set(await self.store.pending_count())
            except Exception as error:
                log.warning("lease upkeep failed", extra={"error": f"{type(error).__name__}: {error}"[:300]})
            await asyncio.sleep(interval)


class LiveEvents:
    """A run executed here for one streaming client, its events handed over through a bounded buffer.

    A client that stops reading holds the run back after `MAX_BUFFERED_EVENTS` instead of letting its output pile
    up in memory (the send timeout then closes the stream); once the client is gone (`close`), events are dropped
    and the run goes on or is cancelled, as `on_disconnect` says.
    """

    def __init__(self, engine: Engine, run: dict[str, Any]) -> None:
        self._queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(MAX_BUFFERED_EVENTS)
        self._client_gone = False
        self.task = asyncio.create_task(self._execute(engine, run), name=f"run-{run['run_id']}")

    async def _send(self, event: str, data: Any) -> None:
        if not self._client_gone:
            await self._queue.put((event, data))

    async def _execute(self, engine: Engine, run: dict[str, Any]) -> Outcome:
        try:
            return await engine.execute(run, self._send)
        finally:
            if not self._client_gone:
                await self._queue.put(None)

    async def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        while (item := await self._queue.get()) is not None:
            yield item

    def close(self, *, cancel: bool) -> None:
        """The client is gone: free the run from waiting on it, and cancel it when `cancel`."""
        self._client_gone = True
        while not self._queue.empty():
            self._queue.get_nowait()
        if cancel and not self.task.done():
            self.task.cancel()


def error_event(outcome: Outcome) -> dict[str, str]:
    """The client's view of a failed run: a code and a safe message; details stay in the log under the error id."""
    error = outcome.error
    if error is None:
        return {"error": "none", "message": ""}
    if database_unavailable(error):
        return {"error": "database_unavailable", "message": "the database was unreachable during the run; retry"}
    if outcome.status == "timeout":
        return {"error": "run_timeout", "message": "the run exceeded MAX_RUN_SECONDS"}
    if isinstance(error, ServerDraining):
        return {"error": "draining", "message": str(error)}
    if outcome.status == "interrupted":
        return {"error": "cancelled", "message": str(error)}
    if isinstance(error, GraphNotFound | RunRefused):
        return {"error": type(error).__name__, "message": str(error)}
    return {
        "error": type(error).__name__,
        "message": f"the graph raised an error; quote error id {outcome.error_id} when reporting it",
        "error_id": outcome.error_id or "",
    }


class _EventLog:
    """Appends a run's events to `run_events` (sequence numbers from 1), for joiners on any pod."""

    def __init__(self, store: RunStore, run_id: str, seq: int) -> None:
        self.store, self.run_id, self.seq = store, run_id, seq

    async def add(self, event: str, data: Any) -> None:
        self.seq += 1
        await self.store.add_events(self.run_id, self.seq, [(event, dumps(data))])


async def get_engine(request: Request) -> Engine:
    """FastAPI dependency: the process's engine (async: no thread-pool hop)."""
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]
