"""Crash: kill -9 the server with multi-step runs in flight, restart it: the engine resumes each run from its last
checkpoint once its lease lapses, and no step is lost or repeated."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.contract import Env
from tests.faults.conftest import STEP_ORDER, STEPS, start_server, steps_body, wait_until

LEASE_SECONDS = 2


def _state(url: str, thread_id: str) -> dict:
    return httpx.get(f"{url}{STEPS}/state", params={"thread_id": thread_id}, timeout=5).json()


def _trail(url: str, thread_id: str) -> list[str]:
    response = httpx.get(f"{url}{STEPS}/state", params={"thread_id": thread_id}, timeout=5)
    return response.json()["values"].get("trail", []) if response.status_code == 200 else []


def test_kill_9_mid_run_then_restart_resumes_from_the_last_checkpoint(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    threads = [f"crash-{n}" for n in range(3)]
    server = start_server({**server_env, Env.RUN_LEASE_SECONDS: str(LEASE_SECONDS)}, tmp_path)
    try:
        with ThreadPoolExecutor(len(threads)) as pool:
            in_flight = [
                pool.submit(
                    httpx.post, f"{server.url}{STEPS}/invoke", json=steps_body(t, sleep_seconds=1.0), timeout=30
                )
                for t in threads
            ]
            wait_until(
                lambda: all(_trail(server.url, t) for t in threads),
                timeout=10,
                interval=0.05,
                what="every run's first step checkpointed",
            )
            server.kill()
            server.wait()
            for future in in_flight:  # the clients saw the crash, not a response
                with pytest.raises(httpx.TransportError):
                    future.result()

        server.start()
        for thread_id in threads:  # the restarted server's worker resumes each run once its lease has lapsed
            deadline = time.monotonic() + LEASE_SECONDS + 2 * len(STEP_ORDER) + 5
            while (state := _state(server.url, thread_id))["next"]:
                assert time.monotonic() < deadline, f"{thread_id}: not resumed by the engine: {state}"
                time.sleep(0.1)
            final = state["values"]
            assert final["trail"] == STEP_ORDER, f"{thread_id}: a completed step was lost or run twice: {final}"
            assert final["value"] == 4 and final["description"] == "result is 4"

            history = httpx.get(
                f"{server.url}{STEPS}/history", params={"thread_id": thread_id, "limit": 100}, timeout=5
            ).json()["states"]
            trails = [s["values"].get("trail", []) for s in reversed(history)]  # oldest checkpoint first
            assert all(t == STEP_ORDER[: len(t)] for t in trails), f"{thread_id}: a step repeated in history {trails}"
            lengths = [len(t) for t in trails]
            assert lengths == sorted(lengths) and sorted(set(lengths)) == [0, 1, 2, 3], (
                f"{thread_id}: each step must be checkpointed once, in order: {trails}"
            )
    finally:
        server.stop()
