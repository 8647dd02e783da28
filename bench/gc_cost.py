"""What the cyclic garbage collector costs a run: collections and their pauses per run, in-process.

    python -m bench.gc_cost [--concurrency 32] [--duration 5]

Drives the run engine (`Engine.submit` + `execute`, the path both APIs take, without HTTP) on the bundled
three-step graph against a throwaway PostgreSQL, and times every collection (`gc.callbacks`) three times in one
process: with CPython's defaults, with the start-up heap frozen (`gc.freeze`), and with the server's settings
(`app.server.heap.freeze_startup_heap`: frozen, and the young generation's threshold raised).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Any

import uvloop

from app.server.engine.engine import RunSpec
from app.server.heap import freeze_startup_heap
from app.server.main import create_app
from app.server.settings import Settings
from tests.pg import PostgresCluster

from . import targets
from .driver import closed_loop
from .run import _migrate


class CollectionTimer:
    """Counts collections per generation and sums their pauses."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def reset(self) -> None:
        self.count, self.seconds = [0, 0, 0], [0.0, 0.0, 0.0]


async def measure(args: argparse.Namespace) -> None:
    timer = CollectionTimer()
    gc.callbacks.append(timer)
    with PostgresCluster() as cluster:
        dsn = cluster.create_database("gc")
        _migrate(dsn)
        app = create_app(Settings(DATABASE_URL=dsn))
        async with app.router.lifespan_context(app):
            engine, graph = app.state.engine, app.state.runtime.registry.get(targets.GRAPH_NAME)

            async def run_once(thread_id: str) -> None:
                spec = RunSpec(graph=graph, thread_id=thread_id, input=targets.GRAPH_INPUT, create_thread=True)
                outcome = await engine.execute(await engine.submit(spec, start=True))
                targets.check(outcome.values)

            settings = (
                ("CPython defaults", lambda: None),
                ("start-up heap frozen", lambda: (gc.collect(), gc.freeze())),
                ("server settings (frozen, young threshold raised)", freeze_startup_heap),
            )
            for label, apply in settings:
                apply()
                await closed_loop(label, run_once, concurrency=args.concurrency, duration=1, warmup=0)
                timer.reset()
                cpu = time.process_time()
                result = await closed_loop(label, run_once, concurrency=args.concurrency, duration=args.duration,
                                           warmup=0)  # fmt: skip
                runs = max(result.runs, 1)
                per_generation = ", ".join(
                    f"gen{g} {timer.count[g] / runs:.3f} x {timer.seconds[g] * 1000 / runs:.3f} ms" for g in range(3)
                )
                print(
                    f"{label:50} c={args.concurrency} {result.runs_per_second:6.1f} runs/s  "
                    f"CPU {(time.process_time() - cpu) * 1000 / runs:5.2f} ms/run  "
                    f"collections {sum(timer.seconds) * 1000 / runs:.3f} ms/run ({per_generation}); "
                    f"objects tracked {len(gc.get_objects())}",
                    flush=True,
                )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gc_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    uvloop.run(measure(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
