"""Auth: with API keys set, every graph and platform route answers 401 without a key or with a wrong one,
and a wrong key of the right length takes the same path as any other wrong key (constant-time compare)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.contract import HEALTH_PATH, METRICS_PATH, READY_PATH, Env
from app.server import auth
from tests.faults.conftest import migrated_env, start_server
from tests.pg import PostgresCluster
from tests.server_process import ServerProcess

KEY = "k3y-0123456789abcdef0123456789abcdef"
OTHER_KEY = "second-key-for-rotation-0123456789"
OPEN_PATHS = {HEALTH_PATH, READY_PATH, METRICS_PATH, "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
PATH_VALUES = {
    "name": "steps",
    "assistant_id": "steps",
    "thread_id": str(uuid.uuid4()),
    "checkpoint_id": str(uuid.uuid4()),
    "run_id": str(uuid.uuid4()),
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
