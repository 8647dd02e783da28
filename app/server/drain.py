"""Graceful shutdown: once draining, readiness fails and new runs are refused; in-flight runs may finish."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class ServerDraining(Exception):
    """Raised when a run is requested after shutdown began."""


class DrainState:
    """Counts runs in flight and lets shutdown wait (bounded) until they finish."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin_run(self) -> None:
        if self.draining:
            raise ServerDraining("the server is shutting down; retry on another replica")
        self.in_flight += 1
        self._idle.clear()

    def end_run(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def start_draining(self) -> None:
        if not self.draining:
            self.draining = True
            log.info("draining: readiness now fails and new runs are refused", extra={"in_flight": self.in_flight})

    async def drain(self, limit_seconds: float) -> bool:
        """Stop taking runs and wait up to `limit_seconds` for in-flight runs; True if all finished."""
        self.start_draining()
        try:
            await asyncio.wait_for(self._idle.wait(), limit_seconds)
        except TimeoutError:
            log.warning("drain timeout reached with runs still in flight", extra={"in_flight": self.in_flight})
            return False
        return True
