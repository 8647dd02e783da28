"""Leases: a run whose process dies (kill -9) or whose database goes away mid-run does not stay busy."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from app.contract import METRICS_PATH, Env, Metrics
from tests.engine.conftest import LEASE_SECONDS, engine_env
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

STEP_SECONDS = 1.0


def _wait_for(check, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s")


@contextlib.contextmanager
def _run_on_a_doomed_replica(
    env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[ServerProcess, SyncLangGraphClient, str, str, str]]:
    """Two servers on one database and a background run started on the first (which the test kills): yields that
    process, a client of the other, the other's URL, the thread and the run."""
    doomed = ServerProcess(env=env, log_path=tmp_path / "doomed.log")
    survivor = ServerProcess(env=env, log_path=tmp_path / "survivor.log")
    try:
        doomed.start()
        survivor.start()
        with get_sync_client(url=doomed.url, api_key=None) as a, get_sync_client(url=survivor.url, api_key=None) as b:
            thread_id = a.threads.create()["thread_id"]
            run = a.runs.create(thread_id, "steps", input={"value": 1, "sleep_seconds": STEP_SECONDS})
            yield doomed, b, survivor.url, thread_id, run["run_id"]
    finally:
        doomed.stop()
        survivor.stop()


def test_a_run_of_a_killed_process_is_resumed_from_its_checkpoint_by_another(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    with _run_on_a_doomed_replica(pg_env, tmp_path) as (doomed, b, survivor_url, thread_id, run_id):
        # let add_one finish and its checkpoint land, then kill the process in the middle of `double`
        _wait_for(lambda: "add_one" in (b.threads.get_state(thread_id)["values"].get("trail") or []), 10)
        doomed.kill()
        killed_at = time.monotonic()
        assert b.runs.get(thread_id, run_id)["status"] == "running"
        values = b.runs.join(thread_id, run_id)
        took = time.monotonic() - killed_at
        assert values["trail"] == ["add_one", "double", "describe"]  # nothing lost, nothing done twice
        assert values["value"] == 4
        # detected within the lease (+1 s sweep period), then two steps of STEP_SECONDS
        assert took < LEASE_SECONDS + 1 + 2 * STEP_SECONDS + 2, took
        assert b.runs.get(thread_id, run_id)["status"] == "success"
        assert b.threads.get(thread_id)["status"] == "idle"
        metrics = httpx.get(survivor_url + METRICS_PATH).text
    assert f'{Metrics.RUN_LEASE_EXPIRIES}{{outcome="retried"}} 1.0' in metrics, metrics
    assert f'{Metrics.RUN_LEASE_EXPIRIES}{{outcome="exhausted"}} 0.0' in metrics


def test_a_lease_expiry_past_the_last_attempt_is_counted_as_exhausted(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """RUN_MAX_ATTEMPTS=1: the lost run is not resumed but ends in error, and the counter says `exhausted`."""
    env = {**engine_env(postgres_cluster.create_database("exhausted"), tmp_path / "data"), Env.RUN_MAX_ATTEMPTS: "1"}
    with _run_on_a_doomed_replica(env, tmp_path) as (doomed, b, survivor_url, thread_id, run_id):
        _wait_for(lambda: b.runs.get(thread_id, run_id)["status"] == "running", 10)
        doomed.kill()
        ended = _wait_for(lambda: (r := b.runs.get(thread_id, run_id))["status"] != "running" and r, LEASE_SECONDS + 5)
        assert ended["status"] == "error", ended
        metrics = httpx.get(survivor_url + METRICS_PATH).text
    assert f'{Metrics.RUN_LEASE_EXPIRIES}{{outcome="exhausted"}} 1.0' in metrics, metrics
    assert f'{Metrics.RUN_LEASE_EXPIRIES}{{outcome="retried"}} 0.0' in metrics


def test_a_database_outage_mid_run_leaves_the_thread_usable_within_seconds(tmp_path: Path) -> None:
    with PostgresCluster() as cluster:
        env = engine_env(cluster.create_database("outage"), tmp_path / "data")
        server = ServerProcess(env={**env, "DB_POOL_TIMEOUT_SECONDS": "1"}, log_path=tmp_path / "server.log")
        try:
            server.start()
            thread_id = f"outage-{uuid.uuid4().hex}"
            body = {"thread_id": thread_id, "input": {"value": 1, "sleep_seconds": STEP_SECONDS}}
            with httpx.Client(base_url=server.url, timeout=30) as client:
                import threading

                answers: list[httpx.Response] = []
                runner = threading.Thread(target=lambda: answers.append(client.post("/graphs/steps/invoke", json=body)))
                runner.start()
                time.sleep(STEP_SECONDS / 2)
                cluster.stop()
                time.sleep(2)
                cluster.start()
                recovered_at = time.monotonic()
                runner.join(30)
                assert answers and answers[0].status_code in (503, 200), answers[0].text
                retry = {"thread_id": thread_id, "input": {"value": 1}}
                ok = _wait_for(
                    lambda: (r := client.post("/graphs/steps/invoke", json=retry)).status_code == 200 and r, 15, 0.5
                )
                assert time.monotonic() - recovered_at < LEASE_SECONDS + 5
                assert ok.json()["state"]["value"] >= 4
        finally:
            server.stop()
