"""The cron scheduler: every server process claims due crons each tick and submits their runs to the engine.

The claim (`CronStore.claim`) decides which replica fires a schedule, so each firing creates one run whichever
replica claimed it; a worker on any replica executes it. A draining process claims nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import HTTPException
from prometheus_client import Counter

from ...contract import Metrics
from ..engine.engine import Engine, RunRefused, ThreadMissing
from ..logs import redact
from ..runtime import Runtime
from .context import Platform
from .cron_store import CLAIM_BATCH
from .crons import cron_run

log = logging.getLogger("app.crons")

CRON_TICK_SECONDS = 1.0
"""How often each process looks for due crons (the finest schedule croniter offers is one second)."""
FIRE_OUTCOMES = ("run_created", "failed", "thread_deleted")
STOP_TIMEOUT_SECONDS = 5.0
"""How long `stop` waits for the tick in progress before cancelling it."""


class CronScheduler:
    """One per process; `start()` after the engine's, `stop()` before the drain."""

    def __init__(self, runtime: Runtime, engine: Engine) -> None:
        self.runtime = runtime
        self.engine = engine
        self.platform = Platform.for_runtime(runtime)
        self.fires = Counter(
            Metrics.CRON_FIRES, "Cron firings by outcome: run_created, failed or thread_deleted", ["outcome"],
            registry=runtime.metrics.registry,
        )  # fmt: skip
        for outcome in FIRE_OUTCOMES:  # every series exists from the start, so rates and alerts see a zero
            self.fires.labels(outcome)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="cron-scheduler")

    async def stop(self) -> None:
        """Let the tick in progress finish (a claim cut mid-transaction could hold its connection), then stop."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait([self._task], timeout=STOP_TIMEOUT_SECONDS)
            if not done:
                self._task.cancel()
            self._task = None

    async def tick(self) -> int:
        """Fire the crons due now; return how many were claimed."""
        claimed = await self.platform.crons.claim()
        for cron in claimed:
            await self._fire(cron)
        return len(claimed)

    async def _fire(self, cron: dict[str, Any]) -> None:
        """Submit the cron's run, with the cron's metadata; a worker executes it."""
        payload = cron["payload"]
        if cron["thread_id"] is None and cron["on_run_completed"] == "keep":
            payload = {**payload, "on_completion": "keep"}
        try:
            spec = await cron_run(self.platform, cron["thread_id"], payload, cron["metadata"])
            run = await self.engine.submit(spec, start=False)
        except ThreadMissing:  # deleted by the retention job: its crons go with it, as threads.delete does
            log.info("cron's thread is gone; deleting the cron", extra={"cron_id": cron["cron_id"]})
            await self.platform.crons.delete_for_thread(cron["thread_id"])
            self.fires.labels("thread_deleted").inc()
            return
        except Exception as error:  # this firing is lost (the claim moved its schedule on); the batch goes on
            if isinstance(error, HTTPException | RunRefused):
                detail = str(error.detail if isinstance(error, HTTPException) else error.message)
            else:
                detail = redact(f"{type(error).__name__}: {error}")[:300]
            log.warning("cron could not create its run", extra={"cron_id": cron["cron_id"], "error": detail})
            self.fires.labels("failed").inc()
            return
        self.fires.labels("run_created").inc()
        log.info("cron fired", extra={"cron_id": cron["cron_id"], "run_id": run["run_id"]})

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.runtime.drain.draining and await self.tick() >= CLAIM_BATCH:
                    continue  # more may be due
            except Exception as error:
                log.warning("cron scheduler tick failed", extra={"error": f"{type(error).__name__}: {error}"[:300]})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CRON_TICK_SECONDS):
                    await self._stopping.wait()
