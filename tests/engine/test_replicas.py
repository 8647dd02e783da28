"""Runs as database records: races between two replicas on one PostgreSQL database, through both HTTP APIs."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from app.contract import METRICS_PATH, Metrics
from tests.server_process import ServerProcess

DOCUMENT = {"title": "Plan", "document": "We ship the billing flow in May. It replaces the legacy invoices."}


def _post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=30)


def _together(*calls: tuple[str, str, dict]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: _post(*call), calls))


def _history(url: str, graph: str, thread_id: str) -> list[dict]:
    response = httpx.get(f"{url}/graphs/{graph}/history", params={"thread_id": thread_id, "limit": 100}, timeout=10)
    return response.json()["states"]


def test_double_resume_on_two_replicas_runs_the_approval_once(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    for attempt in range(5):
        thread_id = f"review-{uuid.uuid4().hex}"
        paused = _post(a.url, "/graphs/review/invoke", {"thread_id": thread_id, "input": DOCUMENT})
        assert paused.json()["status"] == "interrupted"
        answers = _together(
            (a.url, "/graphs/review/resume", {"thread_id": thread_id, "resume": {"approved": True}}),
            (b.url, "/graphs/review/resume", {"thread_id": thread_id, "resume": {"approved": False}}),
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200, 409], (attempt, [r.text for r in answers])
        [winner] = [r.json() for r in answers if r.status_code == 200]
        [loser] = [r.json() for r in answers if r.status_code == 409]
        assert loser["error"] in ("thread_busy", "not_paused"), loser
        states = _history(a.url, "review", thread_id)
        assert states[0]["values"]["decision"] == winner["state"]["decision"]
        assert sum(1 for s in states if s["next"] == ["finalize"]) == 1  # the approval step ran once
        assert sum(1 for s in states if s["next"] == [] and "decision" in s["values"]) == 1  # finalize ran once


def test_double_invoke_on_two_replicas(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    thread_id = f"steps-{uuid.uuid4().hex}"
    body = {"thread_id": thread_id, "input": {"value": 1, "sleep_seconds": 0.3}}
    answers = _together((a.url, "/graphs/steps/invoke", body), (b.url, "/graphs/steps/invoke", body))
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    [busy] = [r.json() for r in answers if r.status_code == 409]
    assert busy["error"] == "thread_busy" and thread_id in busy["message"]
    state = httpx.get(f"{a.url}/graphs/steps/state", params={"thread_id": thread_id}).json()
    assert state["values"]["trail"] == ["add_one", "double", "describe"]  # each step once, nothing lost


def test_a_run_through_one_api_blocks_the_other(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    thread_id = str(uuid.uuid4())
    slow = {"thread_id": thread_id, "input": {"value": 1, "sleep_seconds": 0.5}}
    platform = {
        "assistant_id": "steps",
        "input": {"value": 5},
        "multitask_strategy": "reject",
        "if_not_exists": "create",
    }
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, a.url, "/graphs/steps/invoke", slow)
        for _ in range(50):  # wait (bounded) until the run is recorded as running
            runs = httpx.get(f"{b.url}/threads/{thread_id}/runs").json()
            if isinstance(runs, list) and runs and runs[0]["status"] == "running":
                break
            time.sleep(0.02)
        second = _post(b.url, f"/threads/{thread_id}/runs/wait", platform)
        assert first.result().status_code == 200
    assert second.status_code == 409, second.text
    assert "busy" in second.json()["detail"]


def test_a_thread_belongs_to_the_graph_that_created_it(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    thread_id = f"doc-{uuid.uuid4().hex}"
    assert _post(a.url, "/graphs/review/invoke", {"thread_id": thread_id, "input": DOCUMENT}).status_code == 200
    other = _post(b.url, "/graphs/steps/invoke", {"thread_id": thread_id, "input": {"value": 1}})
    assert other.status_code == 409
    body = other.json()
    assert body["error"] == "thread_of_another_graph"
    assert "'review'" in body["message"] and "'steps'" in body["message"]
    state = httpx.get(f"{a.url}/graphs/review/state", params={"thread_id": thread_id}).json()
    assert state["next"] == ["human_approval"] and state["interrupts"]  # the pending interrupt survived
    sdk = _post(b.url, f"/threads/{thread_id}/runs/wait", {"assistant_id": "steps", "input": {"value": 1}})
    assert sdk.status_code == 409 and "'review'" in sdk.json()["detail"]


def test_a_checkpoint_that_does_not_exist_is_a_404(replicas: list[ServerProcess]) -> None:
    a, _ = replicas
    thread_id = f"doc-{uuid.uuid4().hex}"
    assert _post(a.url, "/graphs/review/invoke", {"thread_id": thread_id, "input": DOCUMENT}).status_code == 200
    missing = "1ef00000-0000-6000-8000-000000000000"
    platform = _post(
        a.url, f"/threads/{thread_id}/runs/wait", {"assistant_id": "review", "input": None, "checkpoint_id": missing}
    )
    assert platform.status_code == 404 and missing in platform.json()["detail"]
    graphs = _post(
        a.url,
        "/graphs/review/invoke",
        {"thread_id": thread_id, "input": None, "config": {"configurable": {"checkpoint_id": missing}}},
    )
    assert graphs.status_code == 404 and graphs.json()["error"] == "checkpoint_not_found"
    state = httpx.get(f"{a.url}/graphs/review/state", params={"thread_id": thread_id}).json()
    assert state["next"] == ["human_approval"]


def test_a_state_update_waits_for_no_run_and_keeps_to_its_graph(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    thread_id = f"doc-{uuid.uuid4().hex}"
    assert _post(a.url, "/graphs/review/invoke", {"thread_id": thread_id, "input": DOCUMENT}).status_code == 200
    other_graph = _post(b.url, "/graphs/steps/state", {"thread_id": thread_id, "values": {"value": 1}})
    assert other_graph.status_code == 409 and other_graph.json()["error"] == "thread_of_another_graph"
    busy_id = f"steps-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            _post, a.url, "/graphs/steps/invoke", {"thread_id": busy_id, "input": {"value": 1, "sleep_seconds": 0.5}}
        )
        time.sleep(0.3)
        update = _post(b.url, "/graphs/steps/state", {"thread_id": busy_id, "values": {"value": 100}})
        assert slow.result().status_code == 200
    assert update.status_code == 409 and update.json()["error"] == "thread_busy"
    state = httpx.get(f"{a.url}/graphs/steps/state", params={"thread_id": busy_id}).json()
    assert state["values"]["value"] == 4
    assert _post(b.url, "/graphs/steps/state", {"thread_id": busy_id, "values": {"value": 100}}).status_code == 200


def test_metrics_cover_the_queue(replicas: list[ServerProcess]) -> None:
    text = httpx.get(f"{replicas[0].url}{METRICS_PATH}").text
    for name in (Metrics.RUNS_PENDING, Metrics.RUN_QUEUE_WAIT, Metrics.RUN_LEASE_EXPIRIES, Metrics.RUN_RETRIES):
        assert name in text, name
