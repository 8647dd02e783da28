"""Profile our server under load: py-spy samples the server process while the closed loop drives it.

    python -m bench.profile [--concurrency 8] [--duration 15] [--api graphs|sdk] [--output stacks.txt]

Prints the server's CPU use and the functions holding the most samples (inclusive), so the cost of HTTP,
JSON, middleware, the pool and the checkpointer can be read off; `--output` keeps the collapsed stacks
(input for flamegraph.pl or speedscope). Only samples of a thread holding the GIL are kept (`py-spy --gil`):
uvloop waits for I/O and idle thread-pool workers wait for work without it, and py-spy counts those waits as
busy otherwise (the event loop's `run_forever` and the pool's `_worker` then look like half the samples).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil
import uvloop

from tests.pg import PostgresCluster

from . import processes, targets
from .driver import closed_loop
from .run import _migrate

SITE_PACKAGES = str(Path(psutil.__file__).resolve().parent.parent) + "/"


def _frame_name(frame: str) -> str:
    function, _, location = frame.partition(" (")
    return f"{function} ({location.split(':')[0].replace(SITE_PACKAGES, '').replace(str(processes.ROOT) + '/', '')})"


def summarize(raw: Path, top: int) -> list[tuple[float, str]]:
    """Inclusive share of samples per function from py-spy's collapsed ("raw") output."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for name in {_frame_name(frame) for frame in stack.split(";")}:
            inclusive[name] += int(count)
    return [(n / total, name) for name, n in inclusive.most_common(top)] if total else []


async def profile(args: argparse.Namespace) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with PostgresCluster() as cluster:
        dsn = cluster.create_database("profile")
        _migrate(dsn)
        server = processes.start_our_server(dsn)
        try:
            process = psutil.Process(server.process.pid)
            raw = Path(tempfile.mkdtemp(prefix="lgk8s-profile-")) / "server.txt"
            target = targets.langgraph_sdk_wait if args.api == "sdk" else targets.our_http
            async with target(server.base_url, args.concurrency) as run_once:
                await closed_loop("warm-up", run_once, concurrency=args.concurrency, duration=2, warmup=0)
                spy = await asyncio.create_subprocess_exec(
                    py_spy, "record", "--pid", str(process.pid), "--duration", str(int(args.duration)),
                    "--rate", "250", "--format", "raw", "--output", str(raw), "--nonblocking", "--gil",
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                process.cpu_percent()
                result = await closed_loop("profiled", run_once, concurrency=args.concurrency,
                                           duration=args.duration, warmup=0)  # fmt: skip
                cpu = process.cpu_percent()
                await asyncio.wait_for(spy.wait(), 30)
        finally:
            server.stop()
    print(
        f"c={args.concurrency}: {result.runs_per_second:.1f} runs/s while sampled, "
        f"p50 {result.percentile(50) * 1000:.1f} ms, errors {result.errors}; server CPU {cpu:.0f}% of one core"
    )
    for share, name in summarize(raw, args.top):
        print(f"{share:6.1%}  {name}")
    if args.output:
        shutil.copy(raw, args.output)
        print(f"collapsed stacks written to {args.output}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--api", choices=("graphs", "sdk"), default="graphs",
                        help="`POST /graphs/steps/invoke`, or `runs.wait` through the langgraph-sdk")  # fmt: skip
    parser.add_argument("--top", type=int, default=45, help="how many functions to list")
    parser.add_argument("--output", type=Path, help="keep the collapsed stacks (flamegraph.pl / speedscope input)")
    uvloop.run(profile(parser.parse_args()))  # the same client loop as `bench.run`
    return 0


if __name__ == "__main__":
    sys.exit(main())
