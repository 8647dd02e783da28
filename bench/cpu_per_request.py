"""Server CPU time per request: what the server itself spends, which a loaded machine disturbs far less than
runs/s. For comparing two versions of the server on a shared machine (e.g. before and after a change at the
HTTP edge): run it in each checkout, alternating, and compare the medians.

    python -m bench.cpu_per_request [--requests 3000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid

import psutil

from app.contract import HEALTH_PATH, Env
from tests.pg import PostgresCluster

from . import processes
from .http_client import LeanClient, lean_client


async def _drive(base_url: str, method: str, path: str, body: object, requests: int, concurrency: int) -> None:
    remaining = requests

    async def worker(client: LeanClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            payload = body(uuid.uuid4().hex) if callable(body) else body
            status, answer = await client.request(method, path, payload)
            if status != 200:
                raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")

    async with lean_client(base_url, concurrency) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def _invoke_body(thread_id: str) -> dict:
    return {"thread_id": thread_id, "input": {"value": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [("GET /health", "GET", HEALTH_PATH, None), ("POST invoke", "POST", "/graphs/steps/invoke", _invoke_body)]
    with PostgresCluster(password=secrets.token_hex(8)) as cluster:
        dsn = cluster.create_database("cpu_per_request")
        server = processes.start_our_server(dsn, env={Env.MIGRATE_ON_STARTUP: "true"})
        try:
            process = psutil.Process(server.process.pid)
            for name, method, path, body in cases:
                asyncio.run(_drive(server.base_url, method, path, body, 300, args.concurrency))  # warm-up
                per_request, rates = [], []
                for _ in range(args.rounds):
                    cpu, wall = sum(process.cpu_times()[:2]), time.perf_counter()
                    asyncio.run(_drive(server.base_url, method, path, body, args.requests, args.concurrency))
                    per_request.append((sum(process.cpu_times()[:2]) - cpu) / args.requests * 1e6)
                    rates.append(args.requests / (time.perf_counter() - wall))
                print(
                    f"{name:12} c={args.concurrency}  server CPU {statistics.median(per_request):7.0f} µs/request "
                    f"(rounds {', '.join(f'{v:.0f}' for v in per_request)})  {statistics.median(rates):7.1f} req/s",
                    flush=True,
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
