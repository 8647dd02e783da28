"""What a failing run tells its client, on both APIs: a code, a message and an error id, never exception text
with a credential in it; and a run cut at shutdown ends as a JSON error or an `error` event, not a plain-text
500 or a stream that just stops."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx

from app.contract import Env
from tests.app.sse import parse_sse
from tests.faults.conftest import STEPS, migrated_env, runs_in_flight, start_server, steps_body, wait_until
from tests.pg import PostgresCluster, free_port

PROVIDER_PASSWORD = f"provider-pw-{uuid.uuid4().hex[:12]}"
PROVIDER_KEY = f"sk-provider-{uuid.uuid4().hex}"
CHAT_INPUT = {"messages": [{"role": "user", "content": "hello"}]}


def test_a_provider_url_with_credentials_reaches_no_client_and_no_log(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    env = migrated_env(postgres_cluster.create_database(f"leaks_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    provider = f"http://llm-user:{PROVIDER_PASSWORD}@127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = start_server({**env, "OPENAI_API_KEY": PROVIDER_KEY, "OPENAI_BASE_URL": provider}, tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = {
                "invoke": client.post("/graphs/chat/invoke", json={"thread_id": "c-1", "input": CHAT_INPUT}),
                "stream": client.post("/graphs/chat/stream", json={"thread_id": "c-2", "input": CHAT_INPUT}),
                "runs.wait": client.post("/runs/wait", json={"assistant_id": "chat", "input": CHAT_INPUT}),
                "runs.stream": client.post("/runs/stream", json={"assistant_id": "chat", "input": CHAT_INPUT}),
            }
    finally:
        server.stop()
    for name, response in answers.items():
        assert PROVIDER_PASSWORD not in response.text and PROVIDER_KEY not in response.text, f"{name}: {response.text}"
        assert "error id" in response.text, f"{name} does not give an error id: {response.text[:300]}"
    assert answers["invoke"].status_code == 500 and answers["invoke"].json()["error_id"]
    for name in ("stream", "runs.stream"):
        events, _ = parse_sse(answers[name].text)
        assert events[-1].event == "error" and events[-1].data["error_id"], f"{name}: {events[-1:]}"
    log = server.log_path.read_text()  # type: ignore[union-attr]
    assert "llm-user:***@" in log, "the failures were not logged with the provider's URL redacted"
    assert PROVIDER_PASSWORD not in log and PROVIDER_KEY not in log


def test_runs_cut_at_shutdown_end_with_a_json_error_or_an_error_event(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    env = migrated_env(postgres_cluster.create_database(f"cut_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    server = start_server({**env, Env.DRAIN_TIMEOUT_SECONDS: "1"}, tmp_path)
    slow = {"value": 1, "sleep_seconds": 5}
    requests = {
        "invoke": ("POST", f"{STEPS}/invoke", steps_body("cut-1", sleep_seconds=5)),
        "stream": ("POST", f"{STEPS}/stream", steps_body("cut-2", sleep_seconds=5)),
        "runs.wait": ("POST", "/runs/wait", {"assistant_id": "steps", "input": slow}),
        "runs.stream": ("POST", "/runs/stream", {"assistant_id": "steps", "input": slow}),
    }
    answers: dict[str, httpx.Response | Exception] = {}

    def call(name: str, method: str, path: str, body: dict) -> None:
        try:
            answers[name] = httpx.request(method, server.url + path, json=body, timeout=30)
        except httpx.HTTPError as error:
            answers[name] = error

    threads = [threading.Thread(target=call, args=(name, *request)) for name, request in requests.items()]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: runs_in_flight(server.url) >= len(requests), timeout=10, what="all runs in flight")
        server.terminate()
        for thread in threads:
            thread.join(30)
        server.wait(30)
    finally:
        server.stop()
    invoke = answers["invoke"]
    assert isinstance(invoke, httpx.Response), invoke
    assert invoke.status_code == 503 and invoke.json()["error"] == "draining", invoke.text
    assert "retry" in invoke.json()["message"]
    wait = answers["runs.wait"]
    assert isinstance(wait, httpx.Response) and wait.headers["content-type"].startswith("application/json"), wait
    # The LangGraph Server API's error shape: a 503 `detail` telling the client to retry (the run is not re-run
    # behind its back: it is recorded interrupted and the thread keeps its last checkpoint).
    assert wait.status_code == 503 and "retry" in wait.json()["detail"], wait.text
    assert wait.headers["retry-after"], wait.headers
    for name in ("stream", "runs.stream"):
        response = answers[name]
        assert isinstance(response, httpx.Response), f"{name}: {response!r}"
        events, _ = parse_sse(response.text)
        assert events and events[-1].event == "error", f"{name} ended without an error event: {response.text[-300:]}"
        assert events[-1].data["error"] == "draining"
