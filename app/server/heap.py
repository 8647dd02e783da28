"""The cyclic garbage collector's settings for a long-running server process.

CPython's collector scans the young objects after every 700 net allocations of container objects, and now
and then every object the process holds (generation 2): here about 176,000 after start-up (FastAPI, pydantic,
LangGraph, LangChain), almost none of them ever garbage, and the more runs in flight, the more often. Measured
with `python -m bench.gc_cost` at concurrency 32 (docs/benchmarks.md, "Third pass"): collections cost 0.76 ms
of CPU per run with the defaults, 0.32 ms with the start-up heap frozen, 0.14 ms with the young generation's
threshold raised as well. Most objects of a run are freed by reference counting; the threshold only bounds how
much cyclic garbage (a few MiB at most) waits for the next collection.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000  # net container allocations between young collections (CPython: 700)


def freeze_startup_heap() -> None:
    """Collect once, move every object alive now out of the collector's sight (`gc.freeze`), and raise the
    young generation's threshold. Call once, when the process has started (graphs compiled, pool open)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
