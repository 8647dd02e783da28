"""The optional LLM-backed `chat` graph: skipped without a provider key, and against a fake OpenAI-compatible
provider on 127.0.0.1 when one is set (what it sends, what it answers, how provider errors surface)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.memory import InMemorySaver

from app.graphs.chat import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV
from app.server.logs import JsonFormatter
from app.server.registry import RegistryError, load_registry
from app.server.settings import DEFAULT_LANGGRAPH_CONFIG
from tests.app.conftest import serve
from tests.app.sse import parse_sse
from tests.pg import free_port

API_KEY = "sk-test-0123456789abcdef"
MODEL = "fake-model-1"
SKIP_MESSAGE = f"graph 'chat' skipped: set {API_KEY_ENV} to enable it"
CHAT_GRAPH = DEFAULT_LANGGRAPH_CONFIG.parent / "graphs" / "chat.py"


@dataclass
class FakeProvider:
    """A Chat Completions endpoint on 127.0.0.1 that records requests and answers `status` with `reply`."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=dict)
    streamed: bytes | None = None  # the body of a streamed answer; None: `reply` split into chunks


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append({"path": self.path, "authorization": self.headers["Authorization"], "body": body})
            streamed = body.get("stream") and fake.status == 200
            payload = json.dumps(fake.reply).encode()
            if streamed:
                payload = fake.streamed or streamed_completion(fake.reply)
            self.send_response(fake.status)
            self.send_header("Content-Type", "text/event-stream" if streamed else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def completion(content: str) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    return {"object": "chat.completion", "model": MODEL, "choices": [choice]}


def streamed_completion(reply: dict[str, Any]) -> bytes:
    """`reply` as a streaming provider sends it: one `chat.completion.chunk` per word or space, then `[DONE]`."""
    pieces = re.split(r"(\s)", reply["choices"][0]["message"]["content"])
    chunks = [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    return "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"


def chat(client: TestClient, thread_id: str, text: str):
    message = {"role": "user", "content": text}
    return client.post("/graphs/chat/invoke", json={"input": {"messages": [message]}, "thread_id": thread_id})


@pytest.fixture
def keyed_env(sqlite_env: dict[str, str], provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    monkeypatch.setenv(BASE_URL_ENV, provider.url)
    monkeypatch.setenv(MODEL_ENV, MODEL)
    return sqlite_env


def test_without_a_key_the_server_runs_the_other_graphs_and_says_why_chat_is_missing(
    sqlite_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), serve(sqlite_env) as client:
        graphs = [g["name"] for g in client.get("/graphs").json()["graphs"]]
        missing = chat(client, "t-1", "hello")
        steps = client.post("/graphs/steps/invoke", json={"input": {"value": 1}, "thread_id": "t-1"})
    assert sorted(graphs) == ["review", "steps"]
    assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [SKIP_MESSAGE]
    assert missing.status_code == 404
    assert missing.json()["details"] == {"available": ["review", "steps"]}
    assert steps.status_code == 200 and steps.json()["state"]["value"] == 4


def test_chat_sends_the_conversation_with_the_key_and_model_and_keeps_the_thread(
    keyed_env: dict[str, str], provider: FakeProvider
) -> None:
    provider.reply = completion("Hi! How can I help?")
    with serve(keyed_env) as client:
        assert sorted(g["name"] for g in client.get("/graphs").json()["graphs"]) == ["chat", "review", "steps"]
        first = chat(client, "c-1", "hello")
        provider.reply = completion("Paris.")
        second = chat(client, "c-1", "capital of France?")
    assert first.status_code == 200, first.text
    assert first.json()["state"]["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
    ]
    assert second.json()["state"]["messages"][-1] == {"role": "assistant", "content": "Paris."}
    assert [r["path"] for r in provider.requests] == ["/v1/chat/completions"] * 2
    assert {r["authorization"] for r in provider.requests} == {f"Bearer {API_KEY}"}
    assert {r["body"]["model"] for r in provider.requests} == {MODEL}
    assert [m["content"] for m in provider.requests[1]["body"]["messages"]] == [
        "hello",
        "Hi! How can I help?",
        "capital of France?",
    ]


def test_chat_streams_the_providers_tokens_in_messages_mode(keyed_env: dict[str, str], provider: FakeProvider) -> None:
    provider.reply = completion("Hi! How can I help?")
    body = {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hello"}]}}
    with serve(keyed_env) as client:
        response = client.post("/runs/stream", json={**body, "stream_mode": ["messages", "values"]})
    events, _ = parse_sse(response.text)
    partials = [e.data[0] for e in events if e.event == "messages/partial"]
    assert next(e.event for e in events if e.event.startswith("messages/")) == "messages/metadata"
    assert [p["content"] for p in partials][:3] == ["Hi!", "Hi! ", "Hi! How"]  # accumulated token by token
    assert partials[-1]["content"] == "Hi! How can I help?" and partials[-1]["type"] == "ai"
    assert events[-1].data["messages"][-1] == {"role": "assistant", "content": "Hi! How can I help?"}
    assert provider.requests[0]["body"]["stream"] is True


def test_an_unreadable_streamed_event_fails_the_run_with_an_error_id_whose_log_quotes_it(
    keyed_env: dict[str, str], provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.streamed = b"data: {not json\n\n"
    body = {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "hello"}]}}
    with caplog.at_level(logging.ERROR), serve(keyed_env) as client:
        response = client.post("/runs/stream", json={**body, "stream_mode": "messages"})
    events, _ = parse_sse(response.text)
    assert events[-1].event == "error" and "{not json" not in response.text
    [failure] = [r for r in caplog.records if getattr(r, "error_id", None) == events[-1].data["error_id"]]
    assert "streamed an unreadable event: {not json" in JsonFormatter().format(failure)


def test_chat_input_is_checked_against_the_message_schema(keyed_env: dict[str, str], provider: FakeProvider) -> None:
    with serve(keyed_env) as client:
        response = client.post(
            "/graphs/chat/invoke", json={"input": {"messages": [{"role": "robot", "content": "x"}]}, "thread_id": "c-2"}
        )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert "input.messages.0.role" in response.json()["message"]
    assert provider.requests == []


@pytest.mark.parametrize(("status", "reason"), [(401, f"Incorrect API key provided: {API_KEY}"), (500, "overloaded")])
def test_provider_error_is_a_500_with_an_error_id_whose_log_names_the_reason_without_the_key(
    keyed_env: dict[str, str], provider: FakeProvider, caplog: pytest.LogCaptureFixture, status: int, reason: str
) -> None:
    provider.status, provider.reply = status, {"error": {"message": reason, "type": "error"}}
    with caplog.at_level(logging.DEBUG), serve(keyed_env) as client:
        response = chat(client, "c-3", "hello")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and body["error_id"]
    assert API_KEY not in response.text
    [failure] = [r for r in caplog.records if getattr(r, "error_id", None) == body["error_id"]]
    logged = JsonFormatter().format(failure)
    assert f"answered {status} for model '{MODEL}'" in logged
    assert reason.replace(API_KEY, "***") in logged
    formatter = JsonFormatter()
    assert not [r.name for r in caplog.records if API_KEY in formatter.format(r)]


def test_an_unreachable_provider_is_named_in_the_log(
    keyed_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{free_port()}/v1")
    with caplog.at_level(logging.ERROR), serve(keyed_env) as client:
        response = chat(client, "c-4", "hello")
    assert response.status_code == 500
    [failure] = [r for r in caplog.records if getattr(r, "error_id", None) == response.json()["error_id"]]
    assert "cannot be reached: ConnectError" in JsonFormatter().format(failure)


def _config(tmp_path: Path, graphs: dict[str, str]) -> Path:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": graphs}))
    return config


def test_a_graph_that_fails_to_build_still_stops_startup(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def graph():\n    raise RuntimeError('bad graph')\n")
    config = _config(tmp_path, {"chat": f"{CHAT_GRAPH}:graph", "broken": "./broken.py:graph"})
    with pytest.raises(RuntimeError, match="bad graph"):
        load_registry(config, InMemorySaver())


def test_a_config_whose_every_graph_is_skipped_stops_startup(tmp_path: Path) -> None:
    config = _config(tmp_path, {"chat": f"{CHAT_GRAPH}:graph"})
    with pytest.raises(RegistryError, match=f"every graph was skipped \\('chat': set {API_KEY_ENV} to enable it\\)"):
        load_registry(config, InMemorySaver())
