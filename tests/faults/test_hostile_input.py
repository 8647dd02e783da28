"""Hostile input: fuzz every operation of the OpenAPI document (zero 5xx), then a catalogue of malformed
requests that must each get a 4xx whose message says what was wrong."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from app.contract import Env
from tests.faults.conftest import migrated_env, start_server
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

EXAMPLES_PER_OPERATION = 25
SEED = 1
FUZZ_KEY = f"fuzz-key-{uuid.uuid4().hex}"


def _junit_cases(junit_xml: Path) -> list[ElementTree.Element]:
    """The per-operation results of the report schemathesis wrote (our own file, not untrusted input)."""
    return list(ElementTree.parse(junit_xml).getroot().iter("testcase"))  # noqa: S314


def _failing_operations(junit_xml: Path) -> dict[str, str]:
    failing = {}
    for case in _junit_cases(junit_xml):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            failing[case.attrib["name"]] = (problem.attrib.get("message") or problem.text or "")[:500]
    return failing


def test_fuzzing_every_operation_of_both_apis_passes_every_check(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Schemathesis (examples, coverage and fuzzing phases) over the server's own OpenAPI document (the graph API
    and the LangGraph Server API), with API keys on and every check but `positive_data_acceptance`: no 5xx,
    documented statuses, content types, headers and bodies, invalid data refused, auth not ignored. Not
    `positive_data_acceptance`: a schema cannot say that resuming needs a paused thread or that a node name must
    exist, so schema-valid requests are rightly refused with a 4xx that says why."""
    env = migrated_env(postgres_cluster.create_database(f"fuzz_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    server = start_server({**env, Env.API_KEYS: FUZZ_KEY}, tmp_path)
    junit = tmp_path / "schemathesis.xml"
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "-H", f"x-api-key: {FUZZ_KEY}", "-H", f"Authorization: Bearer {FUZZ_KEY}",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED), "--workers", "1",
        "--request-timeout", "30", "--report", "junit", "--report-junit-path", str(junit),
    ]  # fmt: skip
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    finally:
        server.stop()
    assert junit.exists(), f"schemathesis did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    tested = {case.attrib["name"] for case in _junit_cases(junit)}
    assert len(tested) >= 25, f"schemathesis tested only {sorted(tested)}"
    failing = _failing_operations(junit)
    assert not failing, f"operations failing a check: {failing}\n{run.stdout[-6000:]}"
    assert FUZZ_KEY not in server.log_path.read_text()  # type: ignore[union-attr]


JSON = {"content-type": "application/json"}
MAX_BODY = 1_048_576  # the server's default MAX_BODY_BYTES


def _chunked_body() -> Iterator[bytes]:
    """A 2.5 MiB body streamed without Content-Length."""
    yield b'{"thread_id": "a", "input": {"x": "'
    for _ in range(40):
        yield b"x" * 65536
    yield b'"}}'


def _nested(depth: int) -> bytes:
    return b'{"thread_id": "a", "input": ' + b"[" * depth + b"]" * depth + b"}"


# (case, method, path, request arguments, expected status, words the message must contain)
MALFORMED = [
    ("broken JSON", "POST", "/graphs/steps/invoke", {"content": b'{"thread_id": "a", "input": {', "headers": JSON},
     422, ["JSON"]),
    ("broken JSON, platform API", "POST", "/runs/wait", {"content": b'{"assistant_id":', "headers": JSON},
     422, ["JSON"]),
    ("huge body with Content-Length", "POST", "/graphs/steps/invoke",
     {"content": b'{"thread_id": "a", "input": "' + b"x" * 2 * MAX_BODY + b'"}', "headers": JSON},
     413, ["exceeds", str(MAX_BODY)]),
    ("huge body, chunked", "POST", "/graphs/steps/invoke", {"content": _chunked_body(), "headers": JSON},
     413, ["exceeds"]),
    ("empty body", "POST", "/graphs/steps/invoke", {"content": b"", "headers": JSON}, 422, ["body"]),
    ("unknown field", "POST", "/graphs/steps/invoke", {"json": {"thread_id": "a", "input": {}, "bogus": 1}},
     422, ["bogus"]),
    ("not JSON at all", "POST", "/graphs/steps/invoke",
     {"content": b"thread_id=a", "headers": {"content-type": "text/plain"}}, 422, ["body"]),
    ("path traversal in a thread id", "POST", "/graphs/steps/invoke",
     {"json": {"thread_id": "../../etc/passwd", "input": {}}}, 422, ["thread_id"]),
    ("path traversal in a query", "GET", "/graphs/steps/state?thread_id=..%2F..%2Fetc%2Fpasswd", {},
     422, ["thread_id"]),
    ("path traversal in a graph name", "POST", "/graphs/..%2F..%2Fetc%2Fpasswd/invoke",
     {"json": {"thread_id": "a", "input": {}}}, 404, ["not found"]),
    ("unknown graph", "POST", "/graphs/nope/invoke", {"json": {"thread_id": "a", "input": {}}}, 404, ["nope", "steps"]),
    ("negative limit", "GET", "/graphs/steps/history?thread_id=a&limit=-1", {}, 422, ["limit"]),
    ("huge limit", "GET", "/graphs/steps/history?thread_id=a&limit=" + "9" * 40, {}, 422, ["limit"]),
    ("negative limit, platform API", "POST", "/threads/search", {"json": {"limit": -1}}, 422, ["limit"]),
    ("huge limit, platform API", "POST", "/threads/search", {"json": {"limit": 10**30}}, 422, ["limit"]),
    ("negative offset, platform API", "POST", "/threads/search", {"json": {"offset": -5}}, 422, ["offset"]),
    ("unknown assistant", "POST", "/runs/wait", {"json": {"assistant_id": "nope", "input": {}}}, 422, ["nope"]),
    ("thread id that is not a UUID", "GET", "/threads/not-a-uuid", {}, 404, ["not-a-uuid"]),
    ("deeply nested input", "POST", "/graphs/steps/invoke", {"content": _nested(100_000), "headers": JSON},
     400, ["nest"]),
    ("nested deeper than the server accepts", "POST", "/graphs/steps/invoke",
     {"content": _nested(500), "headers": JSON}, 422, ["input", "nested deeper than 100"]),
    ("invalid UTF-8", "POST", "/graphs/steps/invoke",
     {"content": b'{"thread_id": "\xff\xfe", "input": {}}', "headers": JSON}, 400, ["UTF-8"]),
    ("invalid UTF-8, platform API", "POST", "/runs/wait",
     {"content": b'{"assistant_id": "\xff"}', "headers": JSON}, 400, ["UTF-8"]),
    ("null input on a new thread", "POST", "/graphs/steps/invoke", {"json": {"thread_id": "new-1", "input": None}},
     422, ["input", "new-1", "no checkpoint"]),
    ("string input", "POST", "/graphs/steps/invoke", {"json": {"thread_id": "a", "input": "x"}},
     422, ["input", "JSON object"]),
    ("string for an int field", "POST", "/graphs/steps/invoke", {"json": {"thread_id": "a", "input": {"value": "x"}}},
     422, ["input.value", "integer"]),
    ("integer beyond 64 bits", "POST", "/graphs/steps/invoke", {"json": {"thread_id": "a", "input": {"value": 10**30}}},
     422, ["input", "64-bit"]),
    ("int field out of range", "POST", "/graphs/steps/invoke",
     {"json": {"thread_id": "a", "input": {"value": 2**60}}}, 422, ["input.value", "less than"]),
    ("NaN sleep", "POST", "/graphs/steps/invoke",
     {"json": {"thread_id": "a", "input": {"value": 1, "sleep_seconds": "nan"}}}, 422, ["sleep_seconds", "finite"]),
    ("NaN literal", "POST", "/graphs/steps/stream",
     {"content": b'{"thread_id": "a", "input": {"value": 1, "sleep_seconds": NaN}}', "headers": JSON},
     422, ["sleep_seconds", "finite"]),
    ("sleep out of range, streamed", "POST", "/graphs/steps/stream",
     {"json": {"thread_id": "a", "input": {"value": 1, "sleep_seconds": 99}}}, 422, ["sleep_seconds", "less than"]),
    ("NUL in a state update", "POST", "/graphs/steps/state",
     {"json": {"thread_id": "a", "values": {"description": "a\u0000b"}}}, 422, ["values", "NUL"]),
    ("wrong type in a state update", "POST", "/graphs/steps/state",
     {"json": {"thread_id": "a", "values": {"value": [1]}}}, 422, ["values.value", "integer"]),
    ("bad input, platform API", "POST", "/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": "x"}}}, 422, ["input.value", "integer"]),
    ("NUL in thread metadata", "POST", "/threads", {"json": {"metadata": {"k": "a\u0000"}}}, 422, ["metadata", "NUL"]),
    ("lone surrogate in a metadata key", "POST", "/threads",
     {"content": b'{"metadata": {"\\ud800": 1}}', "headers": JSON}, 422, ["metadata", "surrogate"]),
    ("null resume", "POST", "/graphs/review/resume", {"json": {"thread_id": "a", "resume": None}},
     422, ["resume", "null"]),
    ("empty command, platform API", "POST", "/runs/wait", {"json": {"assistant_id": "steps", "command": {}}},
     422, ["command", "resume"]),
    ("NUL in a search filter", "POST", "/threads/search", {"json": {"values": {"k": "\u0000"}}},
     422, ["values", "NUL"]),
    ("NUL in a path id", "GET", "/threads/%00", {}, 422, ["thread_id", "NUL"]),
    ("NUL in a checkpoint id", "GET", "/threads/a/state/%00", {}, 422, ["checkpoint_id", "NUL"]),
    ("NUL in search ids", "POST", "/threads/search", {"json": {"ids": ["a\u0000"]}}, 422, ["ids", "NUL"]),
    ("lone surrogate in search ids", "POST", "/threads/search",
     {"content": b'{"ids": ["\\udc80"]}', "headers": JSON}, 422, ["ids", "unicode"]),
    ("offset beyond 64 bits", "POST", "/threads/search", {"json": {"offset": 2**63}}, 422, ["offset"]),
    ("lone surrogate in a run's tags", "POST", "/graphs/steps/resume",
     {"content": b'{"thread_id": "a", "resume": 1, "config": {"tags": ["\\udb7e"]}}', "headers": JSON},
     422, ["tags", "surrogate"]),
    ("non-string graph_id in thread metadata", "POST", "/threads", {"json": {"metadata": {"graph_id": [1]}}},
     422, ["metadata", "graph_id", "string"]),
    ("non-string graph_id in a metadata patch", "PATCH", "/threads/any-thread",
     {"json": {"metadata": {"graph_id": 7}}}, 422, ["graph_id", "string"]),
    ("unknown input key", "POST", "/graphs/steps/invoke",
     {"json": {"thread_id": "a", "input": {"value": 1, "vlaue": 2}}}, 422, ["input.vlaue", "input schema"]),
    ("unknown input key, platform API", "POST", "/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": 1, "bogus": 2}}}, 422, ["input.bogus"]),
    ("internal configurable key", "POST", "/graphs/steps/invoke",
     {"json": {"thread_id": "a", "input": {"value": 1}, "config": {"configurable": {"checkpoint_id": "x"}}}},
     422, ["checkpoint_id"]),
    ("checkpoint_ns in config, platform API", "POST", "/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": 1}, "config": {"configurable": {"checkpoint_ns": "x"}}}},
     422, ["config", "checkpoint_ns"]),
    ("__pregel key in config, platform API", "POST", "/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": 1},
               "config": {"configurable": {"__pregel_durability": "exit"}}}}, 422, ["__pregel_durability"]),
    ("thread_id override in config, platform API", "POST", "/threads/some-thread/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": 1}, "config": {"configurable": {"thread_id": "x"}}}},
     422, ["thread_id"]),
    ("unknown config key, platform API", "POST", "/runs/wait",
     {"json": {"assistant_id": "steps", "input": {"value": 1}, "config": {"callbacks": "x"}}}, 422, ["callbacks"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "method", "path", "arguments", "status", "words"), MALFORMED)
def test_malformed_request_gets_a_4xx_that_says_what_is_wrong(
    module_server: ServerProcess, case: str, method: str, path: str, arguments: dict, status: int, words: list[str]
) -> None:
    response = httpx.request(method, module_server.url + path, timeout=15, **arguments)
    assert response.status_code == status, f"{case}: {response.status_code} {response.text[:300]}"
    body = response.json()
    message = str(body.get("message") or body.get("detail"))
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{case}: the message {message!r} does not mention {missing}"


def test_an_unknown_checkpoint_ns_on_a_state_update_is_a_422(module_server: ServerProcess) -> None:
    created = httpx.post(module_server.url + "/threads", json={"metadata": {"graph_id": "steps"}}, timeout=15)
    thread_id = created.json()["thread_id"]
    body = {"values": {"value": 1}, "checkpoint": {"checkpoint_ns": "no-such-subgraph"}}
    response = httpx.post(f"{module_server.url}/threads/{thread_id}/state", json=body, timeout=15)
    assert response.status_code == 422, response.text
    assert "checkpoint_ns" in response.json()["detail"] and "no-such-subgraph" in response.json()["detail"]
    assert httpx.get(f"{module_server.url}/threads/{thread_id}", timeout=15).json()["status"] == "idle"


def test_a_json_body_without_content_type_is_read_as_json(module_server: ServerProcess) -> None:
    body = b'{"thread_id": "no-content-type", "input": {"value": 1}}'
    response = httpx.post(module_server.url + "/graphs/steps/invoke", content=body, timeout=15)
    assert response.status_code == 200, response.text
    assert response.json()["state"]["value"] == 4


def test_a_large_float_in_metadata_reads_back(module_server: ServerProcess) -> None:
    """jsonb stores 1.5e32 and gives it back as an integer literal, beyond what JSON encoders take as an integer."""
    created = httpx.post(module_server.url + "/threads", json={"metadata": {"big": 1.5e32, "small": 7}}, timeout=15)
    assert created.status_code == 200, created.text
    thread_id = created.json()["thread_id"]
    patched = httpx.patch(f"{module_server.url}/threads/{thread_id}", json={"metadata": {"n": -2e40}}, timeout=15)
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"] == {"big": 1.5e32, "small": 7, "n": -2e40}
