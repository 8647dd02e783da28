"""The real server process: a paused run survives a restart; SIGTERM drains in-flight runs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from app.contract import READY_PATH, Env
from tests.server_process import ServerProcess


def test_paused_run_survives_a_server_restart(postgres_env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(env=postgres_env, log_path=log)
    with server:
        paused = httpx.post(
            f"{server.url}/graphs/review/invoke",
            json={"thread_id": "restart-1", "input": {"title": "Plan", "document": "Ship it. TBD: dates."}},
        ).json()
        assert paused["status"] == "interrupted"
        server.kill()  # a crash, not a graceful stop
        server.wait()
        server.start()
        state = httpx.get(f"{server.url}/graphs/review/state", params={"thread_id": "restart-1"}).json()
        assert state["next"] == ["human_approval"]
        done = httpx.post(
            f"{server.url}/graphs/review/resume", json={"thread_id": "restart-1", "resume": {"approved": True}}
        ).json()
    assert done["status"] == "success"
    assert done["state"]["decision"] == "approved"
    assert done["state"]["summary"] == "[APPROVED] Ship it."
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["message"] == "server started" and line["database"] == "postgres" for line in lines)
    assert all("postgresql://" not in json.dumps(line) for line in lines)  # the DSN never reaches the log


def test_sigterm_drains_in_flight_runs(postgres_env: dict[str, str], tmp_path: Path) -> None:
    server = ServerProcess(env={**postgres_env, Env.DRAIN_TIMEOUT_SECONDS: "10"}, log_path=tmp_path / "server.log")
    results: dict[str, httpx.Response] = {}

    def slow_run() -> None:
        results["slow"] = httpx.post(
            f"{server.url}/graphs/steps/invoke",
            json={"thread_id": "drain-1", "input": {"value": 1, "sleep_seconds": 0.7}},
            timeout=30,
        )

    with server:
        runner = threading.Thread(target=slow_run)
        runner.start()
        time.sleep(0.4)  # the run is in its first step
        server.terminate()
        time.sleep(0.2)
        ready = httpx.get(server.url + READY_PATH)
        refused = httpx.post(f"{server.url}/graphs/steps/invoke", json={"thread_id": "drain-2", "input": {}})
        runner.join(30)
        server.wait(30)
    assert ready.status_code == 503 and ready.json()["reason"] == "draining"
    assert refused.status_code == 503 and refused.json()["error"] == "draining"
    assert results["slow"].status_code == 200
    assert results["slow"].json()["state"]["value"] == 4
