"""Every endpoint of the graph API, on embedded SQLite and on real PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from app.contract import HEALTH_PATH, METRICS_PATH, READY_PATH, Env, Metrics
from tests.app.conftest import serve
from tests.app.graphs.failing import SECRET
from tests.app.graphs.talk import ANSWER, SIGNATURE
from tests.app.sse import parse_sse

DOCUMENT = {"title": "Release notes", "document": "Version 2 ships faster runs. TODO: add the migration guide."}


def invoke(client: TestClient, graph: str, thread_id: str, payload: object, **extra: object):
    return client.post(f"/graphs/{graph}/invoke", json={"input": payload, "thread_id": thread_id, **extra})


def test_probes_and_metrics(client: TestClient) -> None:
    assert client.get(HEALTH_PATH).json() == {"status": "ok"}
    assert client.get(READY_PATH).json() == {"status": "ready"}
    metrics = client.get(METRICS_PATH)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert f"{Metrics.RUNS_IN_FLIGHT} 0.0" in metrics.text


def test_lists_graphs_with_their_nodes(client: TestClient) -> None:
    graphs = {g["name"]: g for g in client.get("/graphs").json()["graphs"]}
    assert set(graphs) == {"review", "steps"}
    assert graphs["steps"]["nodes"] == ["add_one", "describe", "double"]


def test_invoke_runs_the_three_steps(client: TestClient) -> None:
    response = invoke(client, "steps", "t-1", {"value": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["interrupts"] == []
    assert body["state"] == {"value": 8, "trail": ["add_one", "double", "describe"], "description": "result is 8"}


def test_review_pauses_for_approval_and_resumes(client: TestClient) -> None:
    paused = invoke(client, "review", "doc-1", DOCUMENT).json()
    assert paused["status"] == "interrupted"
    [interrupt] = paused["interrupts"]
    assert interrupt["value"]["question"] == "Approve this document?"
    assert "contains TODO" in interrupt["value"]["issues"]

    state = client.get("/graphs/review/state", params={"thread_id": "doc-1"}).json()
    assert state["next"] == ["human_approval"]
    assert state["interrupts"][0]["id"] == interrupt["id"]

    done = client.post(
        "/graphs/review/resume",
        json={"thread_id": "doc-1", "resume": {"approved": False, "comment": "finish the guide"}},
    )
    assert done.status_code == 200
    final = done.json()
    assert final["status"] == "success"
    assert final["state"]["decision"] == "rejected"
    assert final["state"]["reviewer_comment"] == "finish the guide"
    assert client.get("/graphs/review/state", params={"thread_id": "doc-1"}).json()["next"] == []


def test_malformed_approval_asks_again_with_the_reason(client: TestClient) -> None:
    invoke(client, "review", "doc-2", DOCUMENT)
    again = client.post("/graphs/review/resume", json={"thread_id": "doc-2", "resume": "yes please"}).json()
    assert again["status"] == "interrupted"
    assert "approved" in again["interrupts"][0]["value"]["previous_answer_error"]
    done = client.post("/graphs/review/resume", json={"thread_id": "doc-2", "resume": True}).json()
    assert done["state"]["decision"] == "approved"


def test_stream_sends_each_step_then_end(client: TestClient) -> None:
    response = client.post("/graphs/steps/stream", json={"input": {"value": 1}, "thread_id": "s-1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events, _ = parse_sse(response.text)
    assert [e.event for e in events] == ["updates", "updates", "updates", "end"]
    assert [next(iter(e.data)) for e in events[:3]] == ["add_one", "double", "describe"]
    assert events[1].data == {"double": {"value": 4, "trail": ["double"]}}
    assert events[-1].data == {"thread_id": "s-1", "status": "success", "interrupts": []}


def test_stream_values_mode_and_interrupt_in_end_event(client: TestClient) -> None:
    response = client.post(
        "/graphs/review/stream", json={"input": DOCUMENT, "thread_id": "s-2", "stream_mode": "values"}
    )
    events, _ = parse_sse(response.text)
    values = [e.data for e in events if e.event == "values"]
    assert values[0]["title"] == "Release notes"
    assert any("summary" in v for v in values)
    end = events[-1]
    assert end.event == "end"
    assert end.data["status"] == "interrupted"
    assert end.data["interrupts"][0]["value"]["question"] == "Approve this document?"


def test_stream_messages_mode_sends_langgraphs_message_chunks(failing_client: TestClient) -> None:
    body = {"input": {"messages": [{"role": "user", "content": "hi"}]}, "thread_id": "s-4", "stream_mode": "messages"}
    events, _ = parse_sse(failing_client.post("/graphs/talk/stream", json=body).text)
    assert {e.event for e in events} == {"messages", "end"}
    pairs = [e.data for e in events if e.event == "messages"]  # LangGraph's (message chunk, metadata) pairs
    assert "".join(m["content"] for m, meta in pairs if meta["langgraph_node"] == "reply") == ANSWER
    assert pairs[-1][0]["content"] == SIGNATURE


def test_stream_reports_a_failing_graph_as_error_event(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = failing_client.post("/graphs/fails/stream", json={"input": {"value": 1}, "thread_id": "s-3"})
    events, _ = parse_sse(response.text)
    assert events[-1].event == "error"
    error = events[-1].data
    assert error["error"] == "internal_error"
    assert SECRET not in error["message"]  # no internals to the client
    assert any(getattr(r, "error_id", None) == error["error_id"] for r in caplog.records)


def test_stream_heartbeat_keeps_idle_streams_open(backend_env: dict[str, str]) -> None:
    with serve(backend_env, **{Env.SSE_HEARTBEAT_SECONDS: "0.1"}) as client:
        response = client.post(
            "/graphs/steps/stream", json={"input": {"value": 1, "sleep_seconds": 0.3}, "thread_id": "hb-1"}
        )
    events, comments = parse_sse(response.text)
    assert events[-1].event == "end"
    assert comments.count("heartbeat") >= 3


def test_state_update_then_history_shows_it(client: TestClient) -> None:
    invoke(client, "steps", "h-1", {"value": 1})
    update = client.post(
        "/graphs/steps/state", json={"thread_id": "h-1", "values": {"value": 100}, "as_node": "double"}
    )
    assert update.status_code == 200
    checkpoint_id = update.json()["checkpoint_id"]

    state = client.get("/graphs/steps/state", params={"thread_id": "h-1"}).json()
    assert state["values"]["value"] == 100
    assert state["checkpoint_id"] == checkpoint_id

    history = client.get("/graphs/steps/history", params={"thread_id": "h-1", "limit": 3}).json()["states"]
    assert len(history) == 3
    assert history[0]["checkpoint_id"] == checkpoint_id
    assert history[0]["metadata"]["source"] == "update"
    assert history[1]["values"]["value"] == 4  # the run's final state (1 + 1, doubled), before the update
    assert history[0]["parent_checkpoint_id"] == history[1]["checkpoint_id"]


def test_threads_are_isolated(client: TestClient) -> None:
    invoke(client, "steps", "iso-a", {"value": 1})
    invoke(client, "steps", "iso-b", {"value": 10})
    client.post("/graphs/steps/state", json={"thread_id": "iso-a", "values": {"value": -1}, "as_node": "double"})
    assert client.get("/graphs/steps/state", params={"thread_id": "iso-b"}).json()["values"]["value"] == 22


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("post", "/graphs/nope/invoke", {"thread_id": "t"}, 404, "available graphs: review, steps"),
        ("get", "/graphs/nope/state?thread_id=t", None, 404, "available graphs: review, steps"),
        ("post", "/graphs/steps/invoke", {"input": {}}, 422, "body.thread_id: Field required"),
        ("post", "/graphs/steps/invoke", {"thread_id": 42}, 422, "body.thread_id: Input should be a valid string"),
        ("post", "/graphs/steps/invoke", {"thread_id": "has space"}, 422, "body.thread_id: String should match"),
        ("post", "/graphs/steps/invoke", {"thread_id": "x" * 129}, 422, "String should have at most 128"),
        ("post", "/graphs/steps/invoke", {"thread_id": "t", "extra": 1}, 422, "body.extra: Extra inputs"),
        ("post", "/graphs/steps/invoke", {"thread_id": "t", "config": {"configurable": {"thread_id": "other"}}},
         422, "set by the server"),
        ("post", "/graphs/steps/invoke", {"thread_id": "t", "config": {"recursion_limit": 0}}, 422,
         "body.config.recursion_limit"),
        ("post", "/graphs/steps/stream", {"thread_id": "t", "stream_mode": "everything"}, 422, "body.stream_mode"),
        ("get", "/graphs/steps/state?thread_id=../etc", None, 422, "query.thread_id: String should match"),
        ("get", "/graphs/steps/state?thread_id=never-ran", None, 404, "'never-ran' of graph 'steps' has no state"),
        ("get", "/graphs/steps/history?thread_id=t&limit=0", None, 422, "query.limit"),
        ("get", "/graphs/steps/history?thread_id=t&limit=101", None, 422, "query.limit: Input should be less"),
        ("post", "/graphs/steps/state", {"thread_id": "t", "values": {"value": 1}, "as_node": "ghost"}, 400,
         "graph 'steps' has no node 'ghost'"),
        ("post", "/graphs/review/resume", {"thread_id": "never-ran", "resume": True}, 409,
         "thread 'never-ran' of graph 'review' is not paused"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error(client: TestClient, method: str, path: str, body, status: int, fragment: str):
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"]


def test_malformed_json_names_the_problem(client: TestClient) -> None:
    response = client.post(
        "/graphs/steps/invoke", content=b'{"thread_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON decode error" in response.json()["message"]


def test_resume_of_a_finished_thread_conflicts(client: TestClient) -> None:
    invoke(client, "steps", "done-1", {"value": 1})
    response = client.post("/graphs/steps/resume", json={"thread_id": "done-1", "resume": 1})
    assert response.status_code == 409
    assert response.json()["error"] == "not_paused"


def test_body_over_the_limit_is_refused(backend_env: dict[str, str]) -> None:
    with serve(backend_env, **{Env.MAX_BODY_BYTES: "2048"}) as client:
        declared = client.post("/graphs/steps/invoke", json={"thread_id": "big", "input": {"pad": "x" * 4096}})
        chunked = client.post(
            "/graphs/steps/invoke",
            content=(b"x" * 1024 for _ in range(4)),
            headers={"content-type": "application/json"},
        )
        small = invoke(client, "steps", "small", {"value": 1})
    assert declared.status_code == 413
    assert "exceeds 2048 bytes" in declared.json()["message"]
    assert chunked.status_code == 413
    assert small.status_code == 200


def test_a_raising_graph_is_a_500_with_an_error_id_in_the_log(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.ERROR):
        response = invoke(failing_client, "fails", "boom", {"value": 1})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert body["error_id"] in body["message"]
    assert "ValueError" not in response.text and SECRET not in response.text
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == body["error_id"]]
    assert logged and logged[0].exc_info is not None
    # The process and other threads are unaffected.
    assert invoke(failing_client, "steps", "after-boom", {"value": 1}).json()["state"]["value"] == 4


def test_run_over_max_run_seconds_is_cut_off(backend_env: dict[str, str]) -> None:
    with serve(backend_env, **{Env.MAX_RUN_SECONDS: "0.2"}) as client:
        response = invoke(client, "steps", "slow", {"value": 1, "sleep_seconds": 1})
        metrics = client.get(METRICS_PATH).text
    assert response.status_code == 504
    assert Env.MAX_RUN_SECONDS in response.json()["message"]
    assert f'{Metrics.RUNS}{{graph="steps",outcome="timeout"}} 1.0' in metrics


def test_metrics_count_requests_by_route_template_and_runs_by_outcome(failing_client: TestClient) -> None:
    client = failing_client
    invoke(client, "steps", "m-1", {"value": 1})
    invoke(client, "review", "m-2", DOCUMENT)
    invoke(client, "fails", "m-3", {"value": 1})
    invoke(client, "steps", "m-4", {"value": "bad"})
    client.get("/no/such/path")
    text = client.get(METRICS_PATH).text
    assert f'{Metrics.HTTP_REQUESTS}{{method="POST",route="/graphs/{{name}}/invoke",status="200"}} 2.0' in text
    assert f'{Metrics.HTTP_REQUESTS}{{method="POST",route="/graphs/{{name}}/invoke",status="500"}} 1.0' in text
    assert f'{Metrics.HTTP_REQUESTS}{{method="POST",route="/graphs/{{name}}/invoke",status="422"}} 1.0' in text
    assert f'{Metrics.HTTP_REQUESTS}{{method="GET",route="<unmatched>",status="404"}} 1.0' in text
    assert f'{Metrics.RUNS}{{graph="steps",outcome="success"}} 1.0' in text
    assert f'{Metrics.RUNS}{{graph="review",outcome="interrupted"}} 1.0' in text
    assert f'{Metrics.RUNS}{{graph="fails",outcome="error"}} 1.0' in text
    assert 'graph="steps",outcome="error"' not in text  # rejected input never starts a run
    assert f'{Metrics.RUN_DURATION}_count{{graph="steps"}} 1.0' in text
    assert f'{Metrics.RUN_DURATION}_count{{graph="fails"}} 1.0' in text
    assert f"{Metrics.RUNS_IN_FLIGHT} 0.0" in text
    assert f"{Metrics.CHECKPOINT_WRITE_DURATION}_count" in text
    assert f"{Metrics.CHECKPOINT_WRITE_DURATION}_count 0.0" not in text
    assert f'{Metrics.HTTP_DURATION}_count{{method="POST",route="/graphs/{{name}}/invoke"}} 4.0' in text


def test_draining_fails_readiness_and_refuses_new_runs(client: TestClient) -> None:
    client.app.state.runtime.drain.start_draining()
    ready = client.get(READY_PATH)
    assert ready.status_code == 503
    assert ready.json()["reason"] == "draining"
    refused = invoke(client, "steps", "late", {"value": 1})
    assert refused.status_code == 503
    assert refused.json()["error"] == "draining"
    assert client.post("/graphs/steps/stream", json={"thread_id": "late"}).status_code == 503
    assert client.get(HEALTH_PATH).status_code == 200


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get(HEALTH_PATH, headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get(HEALTH_PATH, headers={"x-request-id": "bad id\twith tab"}).headers["x-request-id"]
    assert len(generated) == 32


def test_openapi_documents_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/graphs", "/graphs/{name}/invoke", "/graphs/{name}/stream", "/graphs/{name}/resume",
            "/graphs/{name}/state", "/graphs/{name}/history", HEALTH_PATH, READY_PATH} <= set(paths)  # fmt: skip
    assert "InvokeRequest" in str(paths["/graphs/{name}/invoke"])
