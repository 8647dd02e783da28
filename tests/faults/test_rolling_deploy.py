"""Rolling deploy: SIGTERM with runs in flight. Readiness fails at once, in-flight runs finish, new runs
get 503, and the process exits within the drain timeout; runs longer than the drain stay resumable."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from app.contract import READY_PATH, Env
from tests.faults.conftest import STEP_ORDER, STEPS, runs_in_flight, start_server, steps_body, wait_until

IN_FLIGHT = 4
STEP_SECONDS = 0.5  # three steps: a run takes about 1.5 s


def _trail(url: str, thread_id: str) -> list[str]:
    state = httpx.get(f"{url}{STEPS}/state", params={"thread_id": thread_id}, timeout=5)
    return state.json()["values"].get("trail", []) if state.status_code == 200 else []


def _invoke(url: str, thread_id: str, sleep_seconds: float) -> httpx.Response:
    return httpx.post(f"{url}{STEPS}/invoke", json=steps_body(thread_id, sleep_seconds), timeout=30)


def _running(url: str, thread_id: str) -> bool:
    runs = httpx.get(f"{url}/threads/{thread_id}/runs", timeout=5).json()
    return isinstance(runs, list) and any(run["status"] == "running" for run in runs)


def test_sigterm_drains_in_flight_runs_refuses_new_ones_and_exits_in_time(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    drain_timeout = 10.0
    env = {**server_env, Env.DRAIN_TIMEOUT_SECONDS: str(drain_timeout), Env.LOG_LEVEL: "INFO"}
    server = start_server(env, tmp_path)
    try:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            runs = [pool.submit(_invoke, server.url, f"deploy-{n}", STEP_SECONDS) for n in range(IN_FLIGHT)]
            deadline = time.monotonic() + 5
            while not all(_running(server.url, f"deploy-{n}") for n in range(IN_FLIGHT)):  # every run has started
                assert time.monotonic() < deadline, "the runs did not start within 5 s"
                time.sleep(0.02)
            wait_until(lambda: runs_in_flight(server.url) == IN_FLIGHT, timeout=10, what="every run in flight")
            server.terminate()
            signalled = time.monotonic()
            ready = httpx.get(server.url + READY_PATH, timeout=5)
            ready_seconds = time.monotonic() - signalled
            refused = httpx.post(f"{server.url}{STEPS}/invoke", json=steps_body("deploy-late"), timeout=5)
            streamed = httpx.post(f"{server.url}{STEPS}/stream", json=steps_body("deploy-late-stream"), timeout=5)
            results = [run.result() for run in runs]
        exit_code = server.wait(drain_timeout + 5)
        exit_seconds = time.monotonic() - signalled
    finally:
        server.stop()

    assert ready.status_code == 503 and ready.json()["reason"] == "draining", ready.text
    assert ready_seconds < 1.0, f"readiness took {ready_seconds:.2f}s to answer during the drain"
    for response in (refused, streamed):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "draining" and response.headers.get("retry-after")
    for result in results:
        assert result.status_code == 200, result.text
        assert result.json()["state"]["trail"] == STEP_ORDER
    # uvicorn re-raises the captured SIGTERM after a clean shutdown, so -15 is a graceful exit too
    assert exit_code in (0, -signal.SIGTERM), f"the drained server exited with {exit_code}"
    assert "server stopped" in (tmp_path / "server.log").read_text(), "the server did not shut down cleanly"
    assert exit_seconds < drain_timeout, f"exit took {exit_seconds:.1f}s, more than the drain timeout"


def test_runs_outlasting_the_drain_timeout_are_cut_and_stay_resumable(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    drain_timeout = 1.0
    env = {**server_env, Env.DRAIN_TIMEOUT_SECONDS: str(drain_timeout)}
    server = start_server(env, tmp_path)
    try:
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(_invoke, server.url, "deploy-long", 2.0)  # about 6 s: longer than the drain
            wait_until(lambda: _trail(server.url, "deploy-long"), timeout=10, what="the first step's checkpoint")
            server.terminate()
            signalled = time.monotonic()
            server.wait(drain_timeout + 10)
            exit_seconds = time.monotonic() - signalled
            try:
                cut: httpx.Response | Exception = run.result()
            except httpx.TransportError as error:
                cut = error
        assert not isinstance(cut, httpx.Response) or cut.status_code >= 500, "a cut run must not report success"

        server.start()
        state = httpx.get(f"{server.url}{STEPS}/state", params={"thread_id": "deploy-long"}, timeout=5).json()
        done = state["values"]["trail"]
        assert done in (STEP_ORDER[:1], STEP_ORDER[:2]) and state["next"] == [STEP_ORDER[len(done)]], state
        resumed = httpx.post(f"{server.url}{STEPS}/invoke", json=steps_body("deploy-long", value=None), timeout=30)
    finally:
        server.stop()
    assert exit_seconds < drain_timeout + 3, f"exit took {exit_seconds:.1f}s with a {drain_timeout}s drain timeout"
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"]["trail"] == STEP_ORDER
