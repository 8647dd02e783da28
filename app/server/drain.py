"""Graceful shutdown: once draining, readiness fails and new runs are refused; in-flight runs may finish.

Runs still going when the drain's time is up are cut: their tasks are cancelled, and `Runtime.run` turns that
cancellation into `RunCutAtShutdown`, so each API answers it like any refusal (a JSON 503, an `error` event
that ends the stream) instead of the server's plain-text 500 for a cancelled request.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

# How long cut runs get to write their error before the server stops.
CUT_GRACE_SECONDS = 2.0


class ServerDraining(Exception):
    """Raised when a run is requested after shutdown began."""


class RunCutAtShutdown(ServerDraining):
    """The run was still going when the drain timeout ran out."""

    def __init__(self) -> None:
        super().__init__(
            "the server shut down before the run finished; retry it (the thread keeps its last checkpoint)"
        )


class DrainState:
    """Counts runs in flight and lets shutdown wait (bounded) until they finish."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._runs: set[asyncio.Task[object]] = set()
        self._cut: set[asyncio.Task[object]] = set()

    def begin_run(self, task: asyncio.Task[object] | None = None) -> None:
        """Admit a run executing in `task` (the task the drain cancels if it must cut the run). Without a task
        (a run the engine recorded, to be executed later) the drain waits for it and cuts it only while it executes
        (`watch`)."""
        if self.draining:
            raise ServerDraining("the server is shutting down; retry on another replica")
        self.in_flight += 1
        self._idle.clear()
        if task is not None:
            self._runs.add(task)

    def end_run(self, task: asyncio.Task[object] | None = None) -> None:
        self.in_flight -= 1
        if task is not None:
            self._runs.discard(task)
            self._cut.discard(task)
        if self.in_flight == 0:
            self._idle.set()

    def watch(self, task: asyncio.Task[object]) -> None:
        """Let the drain cut `task`, the execution of a run admitted without one (`begin_run()`)."""
        self._runs.add(task)

    def unwatch(self, task: asyncio.Task[object]) -> None:
        self._runs.discard(task)
        self._cut.discard(task)

    def was_cut(self, task: asyncio.Task[object]) -> bool:
        """Whether `task` is being cancelled because the drain cut its run (not by its client going away)."""
        return task in self._cut

    def start_draining(self) -> None:
        if not self.draining:
            self.draining = True
            log.info("draining: readiness now fails and new runs are refused", extra={"in_flight": self.in_flight})

    async def drain(self, limit_seconds: float) -> bool:
        """Stop taking runs and wait up to `limit_seconds` for in-flight runs; True if all finished.

        Runs still going then are cut, and get `CUT_GRACE_SECONDS` to tell their clients.
        """
        self.start_draining()
        try:
            await asyncio.wait_for(self._idle.wait(), limit_seconds)
        except TimeoutError:
            log.warning("drain timeout reached; cutting the runs still in flight", extra={"in_flight": self.in_flight})
            self._cut |= self._runs
            for task in self._runs:
                task.cancel()
            try:
                await asyncio.wait_for(self._idle.wait(), CUT_GRACE_SECONDS)
            except TimeoutError:
                log.warning("cut runs did not end in time", extra={"in_flight": self.in_flight})
            return False
        return True
