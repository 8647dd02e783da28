"""`make bench`: our server against the in-process ceiling, the naive pattern and the official local server.

Starts a throwaway PostgreSQL, then for each concurrency drives every target in a closed loop for the same
time on fresh threads, in interleaved rounds (every target once, then again), prints runs/s (the median of the
rounds), p50, p99 and errors with the ratios the targets are stated in, and writes the run into
`docs/benchmarks.md` (between markers; the rest of that file is kept).

    python -m bench.run [--duration 20] [--rounds 5] [--concurrency 1,8,32] [--no-official] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import psutil
import psycopg
import uvloop

from app.contract import Env
from tests.pg import PostgresCluster

from . import processes, targets
from .driver import LoadResult, RunOnce, closed_loop

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
ROUND_WARMUP_SECONDS = 0.5  # before a target's later rounds: its new client's connections, the loop refilled

CEILING = "in-process ceiling"
OURS = "our server (HTTP API)"
OURS_SDK = "our server (langgraph-sdk)"
OURS_BACKGROUND = "our server (background runs: create + join)"
NAIVE = "naive per-request pattern (HTTP)"
OFFICIAL = "official `langgraph dev` (langgraph-sdk)"

# Targets of issues #6 and #13, as ratios from one run: (numerator, denominator, concurrency, minimum ratio).
TARGETS = (
    (OURS, CEILING, 1, 0.75),
    (OURS, CEILING, 8, 0.75),
    (OURS, CEILING, 32, 0.75),
    (OURS, NAIVE, 8, 2.0),
    (OURS, OFFICIAL, 1, 1.0),
    (OURS_SDK, OFFICIAL, 8, 2.0),
    (OURS_SDK, OFFICIAL, 32, 2.0),
)


@dataclass
class Report:
    """Everything one benchmark run measured."""

    duration: float
    rounds: int
    concurrencies: list[int]
    results: list[LoadResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    startup: dict[str, float] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    postgres_version: str = ""

    def get(self, name: str, concurrency: int) -> LoadResult | None:
        return next((r for r in self.results if r.name == name and r.concurrency == concurrency), None)


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def _migrate(database_url: str) -> None:
    env = {**os.environ, Env.DATABASE_URL: database_url, Env.LOG_LEVEL: "WARNING"}
    subprocess.run([sys.executable, "-m", "app.migrate"], cwd=ROOT, env=env, check=True, capture_output=True)


def _has_platform_api(base_url: str) -> bool:
    """True once the server serves the LangGraph Server API (`POST /runs/wait`)."""
    paths = httpx.get(f"{base_url}/openapi.json", timeout=10).json().get("paths", {})
    return "/runs/wait" in paths


async def _measure(
    name: str,
    factory: Callable[[], AbstractAsyncContextManager[RunOnce]],
    concurrency: int,
    duration: float,
    warmup: float,
) -> LoadResult:
    async with factory() as run_once:
        return await closed_loop(name, run_once, concurrency=concurrency, duration=duration, warmup=warmup)


def _row(result: LoadResult, report: Report) -> str:
    ceiling = report.get(CEILING, result.concurrency)
    ratio = f"{result.runs_per_second / ceiling.runs_per_second:6.0%}" if ceiling and ceiling.runs_per_second else "-"
    error = f"  first error: {result.first_error}" if result.errors else ""
    return (
        f"{result.name:42} c={result.concurrency:<3} {result.runs_per_second:8.1f} runs/s  "
        f"p50 {result.percentile(50) * 1000:8.1f} ms  p99 {result.percentile(99) * 1000:8.1f} ms  "
        f"errors {result.errors:<4} of ceiling {ratio}{error}"
    )


async def run(args: argparse.Namespace) -> Report:
    report = Report(duration=args.duration, rounds=args.rounds, concurrencies=args.concurrency)
    report.notes.append(f"Load average at start: {os.getloadavg()[0]:.2f} (other work on the machine skews results).")
    # Password (SCRAM-SHA-256) authentication over TCP, as the deployed database asks of every connection.
    with PostgresCluster(password=secrets.token_urlsafe(18)) as cluster:
        ceiling_dsn, ours_dsn, naive_dsn = (cluster.create_database(n) for n in ("ceiling", "ours", "naive"))
        for dsn in (ceiling_dsn, ours_dsn, naive_dsn):
            _migrate(dsn)
        with psycopg.connect(cluster.dsn) as conn:
            report.postgres_version = conn.execute("SHOW server_version").fetchone()[0]

        server = processes.start_our_server(ours_dsn)
        naive = processes.start_naive_server(naive_dsn)
        try:
            report.startup[OURS] = server.seconds_to_ready
            await asyncio.sleep(1.0)
            report.rss[f"{OURS}, idle"] = server.rss_bytes()
            sdk = _has_platform_api(server.base_url)
            if not sdk:
                report.notes.append("Our server has no `/runs/wait` yet: the langgraph-sdk row for it is skipped.")
            official = args.official and processes.official_available()
            if args.official and not official:
                report.notes.append(
                    f"The official server is not installed ({processes.OFFICIAL_VENV}); run `make bench` to install it."
                )
            for c in args.concurrency:
                measured = [
                    (CEILING, partial(targets.in_process_ceiling, ceiling_dsn)),
                    (OURS, partial(targets.our_http, server.base_url, c)),
                ]
                if sdk:
                    measured += [
                        (OURS_SDK, partial(targets.langgraph_sdk_wait, server.base_url, c)),
                        (OURS_BACKGROUND, partial(targets.langgraph_sdk_background, server.base_url, c)),
                    ]
                measured.append((NAIVE, partial(targets.our_http, naive.base_url, c)))
                await _measure_in_rounds(report, measured, c, args, official)
            report.rss[f"{OURS}, after load"] = server.rss_bytes()
            report.notes.append(f"Load average at the end: {os.getloadavg()[0]:.2f}.")
        finally:
            server.stop()
            naive.stop()
    return report


async def _measure_in_rounds(
    report: Report,
    measured: list[tuple[str, Callable[[], AbstractAsyncContextManager[RunOnce]]]],
    concurrency: int,
    args: argparse.Namespace,
    official: bool,
) -> None:
    """Every target at one concurrency, in `args.rounds` interleaved rounds (ceiling, ours, ..., then again), so
    that a burst of other work on the machine lands on one round of every target rather than on one target; each
    target's rate is the median of its rounds."""
    if official:
        measured = [*measured, (OFFICIAL, partial(_official_server, report, concurrency))]
    rounds: dict[str, list[LoadResult]] = {name: [] for name, _ in measured}
    for number in range(args.rounds):
        for name, factory in measured:
            fresh = number == 0 or name == OFFICIAL  # a new `langgraph dev` every round: the whole warm-up
            warmup = args.warmup if fresh else min(args.warmup, ROUND_WARMUP_SECONDS)
            result = await _measure(name, factory, concurrency, report.duration / args.rounds, warmup)
            rounds[name].append(result)
            print(f"  round {number + 1}/{args.rounds}  {_row(result, report)}", flush=True)
    for name, _ in measured:
        result = LoadResult.of_rounds(rounds[name])
        report.results.append(result)
        print(_row(result, report), flush=True)


@asynccontextmanager
async def _official_server(report: Report, concurrency: int) -> AsyncIterator[RunOnce]:
    """A fresh `langgraph dev` (fresh data dir) per round: its in-memory state slows it down as threads pile up
    (about 120 -> 87 -> 61 runs/s over three 7 s rounds at concurrency 8 on one instance)."""
    server = processes.start_official_server({"steps": targets.official_graph_ref()})
    try:
        report.startup.setdefault(OFFICIAL, server.seconds_to_ready)
        report.rss.setdefault(f"{OFFICIAL}, idle", server.rss_bytes())
        async with targets.langgraph_sdk_wait(server.base_url, concurrency) as run_once:
            yield run_once
        report.rss[f"{OFFICIAL}, after load (c={concurrency})"] = server.rss_bytes()
    finally:
        server.stop()


def target_lines(report: Report) -> list[tuple[str, bool | None]]:
    """Each target with its measured ratio and verdict (None where a side was not measured)."""
    lines = []
    for numerator, denominator, c, minimum in TARGETS:
        if minimum == 1.0:
            label = f"{numerator} ahead of {denominator} at c={c}"
        elif minimum < 1.0:
            label = f"{numerator} >= {minimum:.0%} of {denominator} at c={c}"
        else:
            label = f"{numerator} >= {minimum:.0f}x {denominator} at c={c}"
        a, b = report.get(numerator, c), report.get(denominator, c)
        if a is None or b is None or not b.runs_per_second:
            lines.append((f"{label}: not measured", None))
            continue
        ratio = a.runs_per_second / b.runs_per_second
        met = ratio >= minimum and a.errors == 0
        shown = f"{ratio:.0%}" if minimum < 1.0 else f"{ratio:.2f}x"
        lines.append((f"{label}: {shown}, {'met' if met else 'MISSED'}", met))
    return lines


def machine(postgres_version: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")  # fmt: skip
    return (
        f"{psutil.cpu_count(logical=True)} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.1f} GiB memory, "
        f"Python {platform.python_version()}, PostgreSQL {postgres_version} (fsync off, as in the tests)"
    )


def markdown(report: Report, command: str) -> str:
    out = [
        f"### Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine(report.postgres_version)}.  ",
        f"Command: `{command}` — closed loop, {report.duration:.0f} s per target and concurrency in "
        f"{report.rounds} interleaved rounds after warm-up (runs/s: their median), a fresh thread per run, every "
        "target on the same machine in the same run.",
        "",
        "| target | concurrency | runs/s | rounds, runs/s | p50 ms | p99 ms | errors | of ceiling |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in report.concurrencies:
        ceiling = report.get(CEILING, c)
        for r in (x for x in report.results if x.concurrency == c):
            ratio = f"{r.runs_per_second / ceiling.runs_per_second:.0%}" if ceiling and ceiling.runs_per_second else "-"
            out.append(
                f"| {r.name} | {c} | {r.runs_per_second:.1f} | {' / '.join(f'{x:.0f}' for x in r.round_rates)} | "
                f"{r.percentile(50) * 1000:.1f} | "
                f"{r.percentile(99) * 1000:.1f} | {r.errors} | {ratio} |"
            )
    out += ["", "Targets:", ""]
    out += [f"- {line}" for line, _ in target_lines(report)]
    out += ["", "Start to first ready answer (`/ready` for ours, `/ok` for the official server):", ""]
    out += [f"- {name}: {seconds:.2f} s" for name, seconds in report.startup.items()]
    out += ["", "Resident memory (process and children):", ""]
    out += [f"- {name}: {_mib(rss)}" for name, rss in report.rss.items()]
    if report.notes:
        out += ["", *[f"Note: {n}" for n in report.notes]]
    return "\n".join(out) + "\n"


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = f"{head}{BEGIN}\n{section}{END}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{BEGIN}\n{section}{END}\n".lstrip()
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per target and concurrency, "
                        "all rounds together")  # fmt: skip
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before a target's first round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per concurrency (median rate)")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--no-official", dest="official", action="store_false", help="skip `langgraph dev`")
    parser.add_argument("--no-write", dest="write", action="store_false", help=f"do not update {DOC.name}")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    command = shlex.join(["python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])])
    started = time.perf_counter()
    report = uvloop.run(run(args))  # the loop the server runs on, so the in-process ceiling gets it too
    print()
    for line, _ in target_lines(report):
        print(line)
    for name, seconds in report.startup.items():
        print(f"start to ready, {name}: {seconds:.2f} s")
    for name, rss in report.rss.items():
        print(f"RSS, {name}: {_mib(rss)}")
    for note in report.notes:
        print(f"note: {note}")
    if args.write:
        write_doc(markdown(report, command))
        print(f"\nwrote {DOC.relative_to(ROOT)} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
