"""Auth: with API keys set, every graph and platform route answers 401 without a key or with a wrong one,
and a wrong key of the right length takes the same path as any other wrong key (constant-time compare)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.contract import HEALTH_PATH, METRICS_PATH, READY_PATH, Env
from app.server import auth
from tests.faults.conftest import migrated_env, start_server
from tests.pg import PostgresCluster, free_port
from tests.server_process import PROJECT_ROOT, ServerProcess

JSON = {"content-type": "application/json"}
KEY = "k3y-0123456789abcdef0123456789abcdef"
OTHER_KEY = "second-key-for-rotation-0123456789"
OPEN_PATHS = {HEALTH_PATH, READY_PATH, METRICS_PATH, "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PATH_VALUES = {
    "name": "steps",
    "assistant_id": "steps",
    "thread_id": str(uuid.uuid4()),
    "checkpoint_id": str(uuid.uuid4()),
    "run_id": str(uuid.uuid4()),
    "namespace": "inner",
    "cron_id": str(uuid.uuid4()),
}


def _same_length_wrong(key: str, position: int) -> str:
    flipped = "x" if key[position] != "x" else "y"
    return key[:position] + flipped + key[position + 1 :]


@pytest.fixture(scope="module")
def keyed_server(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp_path: Path = tmp_path_factory.mktemp("auth")
    env = migrated_env(postgres_cluster.create_database(f"faults_auth_{uuid.uuid4().hex[:12]}"), tmp_path / "data")
    server = start_server({**env, Env.API_KEYS: f"{KEY},{OTHER_KEY}"}, tmp_path)
    yield server
    server.stop()


def _operations(server: ServerProcess) -> list[tuple[str, str]]:
    paths = httpx.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    return [
        (method.upper(), path.format(**PATH_VALUES))
        for path, operations in paths.items()
        if path not in OPEN_PATHS
        for method in operations
    ]


def test_every_protected_route_answers_401_without_the_right_key(keyed_server: ServerProcess) -> None:
    operations = _operations(keyed_server)
    assert len(operations) >= 20, operations
    wrong = {
        "no key": {},
        "wrong key, same length (bearer)": {"authorization": f"Bearer {_same_length_wrong(KEY, len(KEY) - 1)}"},
        "wrong key, same length (x-api-key)": {"x-api-key": _same_length_wrong(KEY, 0)},
        "wrong key, other length": {"x-api-key": KEY[:-1]},
        "a key's prefix of another": {"x-api-key": KEY + "0"},
        "bearer of another scheme": {"authorization": f"Basic {KEY}"},
    }
    with httpx.Client(base_url=keyed_server.url, timeout=10) as client:
        for method, path in operations:
            bodies = set()
            for case, headers in wrong.items():
                response = client.request(method, path, headers=headers, json={})
                assert response.status_code == 401, f"{method} {path} with {case}: {response.status_code}"
                assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
                bodies.add(response.text)
            assert len(bodies) == 1, f"{method} {path}: wrong keys are told apart by the answer: {bodies}"
            for headers in ({"authorization": f"Bearer {KEY}"}, {"x-api-key": OTHER_KEY}):
                accepted = client.request(method, path, headers=headers, json={})
                assert accepted.status_code != 401, f"{method} {path} refused a valid key: {accepted.text}"
        for path in (HEALTH_PATH, READY_PATH, METRICS_PATH):
            assert client.get(path).status_code == 200, f"{path} must stay open for probes and scrapes"


def test_a_wrong_key_of_the_same_length_is_compared_in_full_against_every_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every candidate is compared with `hmac.compare_digest` against every configured key, with no early exit."""
    keys = (KEY.encode(), OTHER_KEY.encode())
    compared: list[tuple[bytes, bytes]] = []
    real_compare = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    for candidate in (_same_length_wrong(KEY, 0), _same_length_wrong(KEY, len(KEY) - 1), "short", KEY, OTHER_KEY):
        compared.clear()
        matched = auth.key_matches(candidate.encode(), keys)
        assert matched == (candidate in (KEY, OTHER_KEY))
        assert compared == [(candidate.encode(), key) for key in keys], f"{candidate!r} took a different path"


@pytest.mark.parametrize(
    ("method", "path", "arguments"),
    [
        ("POST", "/graphs/steps/invoke", {"content": b'{"thread_id": "a", "input": {', "headers": JSON}),
        ("POST", "/runs/wait", {"content": b"\xff\xfe", "headers": JSON}),
        ("POST", "/threads/search", {"json": {"limit": -1}}),
        ("GET", "/threads/%00", {}),
        ("GET", "/no/such/route", {}),
        ("DELETE", "/graphs", {}),
    ],
)
def test_without_a_key_the_answer_is_401_before_the_body_or_route_is_looked_at(
    keyed_server: ServerProcess, method: str, path: str, arguments: dict
) -> None:
    response = httpx.request(method, keyed_server.url + path, timeout=10, **arguments)
    assert response.status_code == 401, f"{method} {path}: {response.status_code} {response.text[:200]}"
    assert "API key" in response.json()["message"] and "API key" in response.json()["detail"]


def test_head_is_answered_wherever_get_is(keyed_server: ServerProcess) -> None:
    with httpx.Client(base_url=keyed_server.url, timeout=10, headers={"x-api-key": KEY}) as client:
        for path in (HEALTH_PATH, READY_PATH, METRICS_PATH, "/graphs", "/openapi.json", "/assistants/steps"):
            get, head = client.get(path), client.head(path)
            assert head.status_code == get.status_code == 200, f"HEAD {path}: {head.status_code}"
            assert head.content == b"", f"HEAD {path} sent a body"


def test_no_redirect_is_sent_for_a_trailing_slash(keyed_server: ServerProcess) -> None:
    for path in ("/graphs/", "/threads/search/", "/health/"):
        response = httpx.get(keyed_server.url + path, headers={"host": "evil.example", "x-api-key": KEY}, timeout=10)
        assert not response.is_redirect and "location" not in response.headers, f"{path}: {response.status_code}"


def test_unauthenticated_requests_cannot_grow_the_metrics(keyed_server: ServerProcess) -> None:
    """Label values come from a fixed set: known methods, route templates, statuses."""
    with httpx.Client(base_url=keyed_server.url, timeout=10) as client:
        before = client.get(METRICS_PATH).text
        for n in range(60):
            method = ["GET", "POST", f"X{n}ABC", "PROPFIND", "PURGE"][n % 5]
            with contextlib.suppress(httpx.TransportError):  # methods HTTP does not know: a 400 and a close
                client.request(method, f"/random-{uuid.uuid4().hex}")
        after = client.get(METRICS_PATH).text
    methods = set(re.findall(r'method="([^"]*)"', after))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}, methods
    assert len(after) < len(before) + 8000, f"/metrics grew from {len(before)} to {len(after)} bytes"


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        (Env.API_KEYS, "", None),
        (Env.API_KEYS, " , ,", None),
        (Env.DATABASE_URL, "postgresql://app:hunter2-fragment@db:5432/x?sslmode=require&bad", "hunter2-fragment"),
        (Env.DATABASE_URL, "host=db password='unterminated-secret", "unterminated-secret"),
    ],
)
def test_the_server_refuses_to_start_on_a_bad_setting_naming_it_never_its_value(
    tmp_path: Path, variable: str, value: str, secret: str | None
) -> None:
    env = {**os.environ, Env.PORT: str(free_port()), Env.DATA_DIR: str(tmp_path), variable: value}
    started = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert started.returncode != 0, f"started with {variable}={value!r}"
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], started.stderr[-2000:]
    assert secret is None or secret not in started.stderr + started.stdout
