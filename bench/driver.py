"""A closed-loop load driver: N asyncio tasks, each calling one run after another for a fixed time.

Each call gets a fresh thread id. Only calls that finish inside the measured window (after the
warm-up, before the deadline) are counted, so throughput is completions per second of that window;
calls still in flight at the deadline are awaited but not counted.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

RunOnce = Callable[[str], Awaitable[None]]


@dataclass
class LoadResult:
    """What one closed-loop measurement saw."""

    name: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    round_rates: list[float] = field(default_factory=list)  # runs/s of each round, when measured in rounds

    @property
    def runs(self) -> int:
        return len(self.latencies)

    @property
    def runs_per_second(self) -> float:
        """Completions per second: the median of the rounds' rates if measured in rounds, else runs / seconds."""
        if self.round_rates:
            return statistics.median(self.round_rates)
        return self.runs / self.seconds if self.seconds else 0.0

    @classmethod
    def of_rounds(cls, rounds: list[LoadResult]) -> LoadResult:
        """One result from rounds of the same target: latencies, time and errors pooled, the rate their median."""
        first = rounds[0]
        return cls(
            name=first.name,
            concurrency=first.concurrency,
            seconds=sum(r.seconds for r in rounds),
            latencies=[latency for r in rounds for latency in r.latencies],
            errors=sum(r.errors for r in rounds),
            first_error=next((r.first_error for r in rounds if r.first_error), ""),
            round_rates=[r.runs_per_second for r in rounds],
        )

    def percentile(self, q: float) -> float:
        """Latency percentile in seconds (0 when nothing completed)."""
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0]
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(98, max(0, round(q) - 1))]


async def closed_loop(
    name: str, run_once: RunOnce, *, concurrency: int, duration: float, warmup: float = 2.0
) -> LoadResult:
    """Drive `run_once(thread_id)` from `concurrency` tasks for `warmup + duration` seconds."""
    result = LoadResult(name=name, concurrency=concurrency, seconds=duration)
    measure_from = time.perf_counter() + warmup
    measure_until = measure_from + duration

    async def worker() -> None:
        while (started := time.perf_counter()) < measure_until:
            try:
                await run_once(str(uuid.uuid4()))
            except Exception as exc:  # counted and reported, never fatal to the measurement
                if measure_from <= time.perf_counter() <= measure_until:
                    result.errors += 1
                    result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"[:300]
                await asyncio.sleep(0.01)  # a failing target must not turn the loop into a busy spin
                continue
            finished = time.perf_counter()
            if measure_from <= finished <= measure_until:
                result.latencies.append(finished - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result
