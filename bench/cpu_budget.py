"""CPU per run, by process: where the two shared cores go for each way of running the graph.

    python -m bench.cpu_budget [--concurrency 8] [--duration 10]

Drives the in-process ceiling, our server's HTTP API and its LangGraph Server API (langgraph-sdk `runs.wait`) in
a closed loop, one after another, then the official `langgraph dev` through the same client when it is installed
(`make bench` installs it), and divides the CPU time (user + system) each process used by the runs completed: the
load generator (this process; for the ceiling it also runs the graph), the server (with its children), and every
PostgreSQL process of the throwaway cluster. The sum is the CPU a run costs on this machine; 2 cores divided by
it is the most runs per second the machine could give, whatever the code waits for. A server is one Python
process, so 1000 ms divided by its share (for the ceiling: the load generator's) is the most it could run on one
core.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial

import psutil
import uvloop

from tests.pg import PostgresCluster

from . import processes, targets
from .driver import RunOnce, closed_loop
from .run import _migrate


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def _tree_cpu(root: psutil.Process) -> float:
    """A process and its children (PostgreSQL's backends, `langgraph dev`'s server); one that exited is lost."""
    return _cpu(root) + sum(_cpu(child) for child in root.children(recursive=True))


async def _measure(
    name: str, factory: Callable[[], AbstractAsyncContextManager[RunOnce]], concurrency: int, duration: float,
    server: psutil.Process | None, postmaster: psutil.Process,
) -> None:  # fmt: skip
    me = psutil.Process()
    async with factory() as run_once:
        await closed_loop("warm-up", run_once, concurrency=concurrency, duration=2, warmup=0)
        before = (_cpu(me), _tree_cpu(server) if server else 0.0, _tree_cpu(postmaster))
        result = await closed_loop(name, run_once, concurrency=concurrency, duration=duration, warmup=0)
        after = (_cpu(me), _tree_cpu(server) if server else 0.0, _tree_cpu(postmaster))
    runs = max(1, result.runs)
    client, served, database = ((a - b) / runs * 1000 for a, b in zip(after, before, strict=True))
    total = client + served + database
    graph_process = max(served if server else client, 1e-3)  # the one Python process running the graph
    print(
        f"{name:34} c={concurrency:<3} {result.runs_per_second:6.1f} runs/s  CPU ms per run: "
        f"load generator {client:5.2f}  server {served:5.2f}  postgres {database:5.2f}  total {total:5.2f}  "
        f"(2 cores / total = {2000 / total:5.0f} runs/s, one core / graph process = {1000 / graph_process:5.0f})",
        flush=True,
    )


async def budget(args: argparse.Namespace) -> None:
    with PostgresCluster(password=secrets.token_urlsafe(18)) as cluster:
        ceiling_dsn, ours_dsn = cluster.create_database("ceiling"), cluster.create_database("ours")
        for dsn in (ceiling_dsn, ours_dsn):
            _migrate(dsn)
        postmaster = psutil.Process(int((cluster.data_dir / "postmaster.pid").read_text().split()[0]))
        server = processes.start_our_server(ours_dsn)
        try:
            process = psutil.Process(server.process.pid)
            c, d = args.concurrency, args.duration
            await _measure("in-process ceiling", partial(targets.in_process_ceiling, ceiling_dsn), c, d, None,
                           postmaster)  # fmt: skip
            await _measure("our server (HTTP API)", partial(targets.our_http, server.base_url, c), c, d, process,
                           postmaster)  # fmt: skip
            await _measure("our server (langgraph-sdk)", partial(targets.langgraph_sdk_wait, server.base_url, c), c,
                           d, process, postmaster)  # fmt: skip
        finally:
            server.stop()
        if processes.official_available():
            official = processes.start_official_server({targets.GRAPH_NAME: targets.official_graph_ref()})
            try:
                await _measure("official `langgraph dev` (langgraph-sdk)",
                               partial(targets.langgraph_sdk_wait, official.base_url, c), c, d,
                               psutil.Process(official.process.pid), postmaster)  # fmt: skip
            finally:
                official.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    uvloop.run(budget(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
