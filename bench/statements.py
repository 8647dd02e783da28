"""Count the SQL statements our server sends per run: PostgreSQL logs every statement (`log_statement=all`) of
the server's database while a few runs go through each API, one at a time, then the log is grouped.

    python -m bench.statements [--runs 20]

Prints, per API, the statements per run (round trips, the pool's connection checks included: psycopg sends an
empty query for each, logged as `statement: `) with the count of each distinct statement, its text shortened.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from langgraph_sdk import get_client

from tests.pg import PostgresCluster

from . import processes
from .http_client import lean_client
from .run import _migrate
from .targets import GRAPH_INPUT, GRAPH_NAME

STATEMENT = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*)")


def _statements(log: Path, start: int) -> list[str]:
    entries: list[str] = []
    for line in log.read_text(errors="replace")[start:].splitlines():
        if line.startswith("\t") and entries:  # a statement's continuation line
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    return [match.group(1).strip() for entry in entries if (match := STATEMENT.search(entry))]


def _short(statement: str) -> str:
    statement = re.sub(r"\s+", " ", statement)
    return statement if len(statement) <= 110 else statement[:107] + "..."


async def _graphs_invoke(base_url: str, runs: int) -> None:
    async with lean_client(base_url, 1) as client:
        for _ in range(runs):
            body = {"input": GRAPH_INPUT, "thread_id": str(uuid.uuid4())}
            await client.post_json(f"/graphs/{GRAPH_NAME}/invoke", body)


async def _runs_wait(base_url: str, runs: int) -> None:
    client = get_client(url=base_url, api_key=None)
    for _ in range(runs):
        await client.runs.wait(str(uuid.uuid4()), GRAPH_NAME, input=GRAPH_INPUT, if_not_exists="create")


async def _background(base_url: str, runs: int) -> None:
    client = get_client(url=base_url, api_key=None)
    for _ in range(runs):
        thread_id = str(uuid.uuid4())
        run = await client.runs.create(thread_id, GRAPH_NAME, input=GRAPH_INPUT, if_not_exists="create")
        await client.runs.join(thread_id, run["run_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with PostgresCluster(password=secrets.token_urlsafe(18)) as cluster:
        dsn = cluster.create_database("ours")
        _migrate(dsn)
        subprocess.run(
            ["psql", "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres", "-qc",
             "ALTER DATABASE ours SET log_statement = 'all'"],
            check=True, capture_output=True,
        )  # fmt: skip
        server = processes.start_our_server(dsn)
        try:
            for name, drive in (
                ("POST /graphs/steps/invoke", _graphs_invoke),
                ("langgraph-sdk runs.wait", _runs_wait),
                ("langgraph-sdk runs.create + runs.join", _background),
            ):
                asyncio.run(drive(server.base_url, 2))  # warm-up: prepared statements, pool filled
                start = len(cluster.log_file.read_text(errors="replace"))
                asyncio.run(drive(server.base_url, args.runs))
                found = _statements(cluster.log_file, start)
                print(f"\n{name}: {len(found) / args.runs:.1f} statements per run ({len(found)} in {args.runs} runs)")
                for statement, n in Counter(_short(s) for s in found).most_common():
                    print(f"  {n / args.runs:5.2f}  {statement or '(empty: pool connection check)'}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
