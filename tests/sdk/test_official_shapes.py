"""Our server answers the script of tests/sdk/script.py with the shapes the official server recorded
(tests/sdk/recorded/official.json, `python -m tests.sdk.record`), on PostgreSQL and on SQLite."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

from tests.sdk.conftest import API_KEY
from tests.sdk.record import RECORDING
from tests.sdk.script import drive
from tests.sdk.shapes import differences, unexplained

RECORDED: dict[str, Any] = json.loads(RECORDING.read_text())["responses"]

PLATFORM = "facts of a LangGraph Platform deployment and its requests (version, host, plan, request and auth ids)"
FRESH_THREAD = "every Thread field from creation on; the official in-memory server adds these at the first run"

# Where we differ on purpose: path pattern (fnmatch) to the reason.
EXCEPTIONS: dict[str, str] = {
    "*.configurable.__*": "the platform's request bookkeeping (`__request_start_time_ms__`, `__pregel_*`)",
    "*.configurable.langgraph_*": PLATFORM,
    "*.metadata.langgraph_*": PLATFORM,
    "runs.stream messages*.langgraph_*": PLATFORM,  # a message's metadata, the second item of `messages` data
    "*.user_id": "platform auth users; this server authenticates API keys, not users",
    **{
        f"{step}.{key}": FRESH_THREAD
        for step in ("threads.create", "threads.get new", "threads.copy")
        for key in ("config.configurable", "error", "interrupts", "values")
    },
    "error *.body.errors": "a 422 also lists each validation error; `detail` is a string, as officially",
    "runs.create*.status": "a run starts at once when its thread is free; the official queue answers `pending`",
    "runs.create*.kwargs.config.metadata.run_attempt": "as above: the run has started",
    "runs.get cancelled.kwargs.config.metadata.run_attempt": "cancelled while running; officially still queued",
    "runs.cancel.*": "with wait, the thread's values as runs.join; officially the values streamed since the request",
    "runs.join_stream": "a background run's events are kept: joining after its end replays them (officially nothing)",
    "threads.get_state at.checkpoint.checkpoint_ns": "always present; officially left out of a state read by id",
    "runs.wait fails.__error__.error_id": "the id of the error in the server's log, which alone has its details",
}


@pytest.fixture(scope="module")
def ours(server_url: str) -> dict[str, Any]:
    with get_sync_client(url=server_url, api_key=API_KEY) as client:
        return drive(client)


@pytest.mark.parametrize("step", sorted(RECORDED))
def test_same_shape_as_the_official_server(ours: dict[str, Any], step: str) -> None:
    found = unexplained(differences(RECORDED[step], ours[step], step), EXCEPTIONS)
    assert not found, "\n".join(found)
