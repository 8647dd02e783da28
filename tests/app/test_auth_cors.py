"""API keys on the graph routes (probes stay open) and CORS from an explicit origin list."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.contract import HEALTH_PATH, METRICS_PATH, READY_PATH, Env
from app.server.auth import key_matches
from app.server.settings import Settings
from tests.app.conftest import serve

KEYS = "first-key-0123456789,second-key-9876543210"


@pytest.fixture
def secured(sqlite_env: dict[str, str]):
    with serve(sqlite_env, **{Env.API_KEYS: KEYS}) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"x-api-key": "first-key-012345678"},
        {"authorization": "Basic Zm9vOmJhcg=="},
    ],
)
def test_graph_routes_need_a_valid_key(secured, headers: dict[str, str]) -> None:
    for method, path in (("get", "/graphs"), ("post", "/graphs/steps/invoke"), ("get", "/graphs/steps/state")):
        response = secured.request(method, path, headers=headers, json={"thread_id": "t"})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "x-api-key" in response.json()["message"]


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer first-key-0123456789"}, {"x-api-key": "second-key-9876543210"}],
)
def test_either_header_with_any_configured_key_is_accepted(secured, headers: dict[str, str]) -> None:
    assert secured.get("/graphs", headers=headers).status_code == 200
    response = secured.post("/graphs/steps/invoke", headers=headers, json={"thread_id": "t", "input": {"value": 1}})
    assert response.json()["state"]["value"] == 4


def test_probes_and_metrics_stay_open(secured) -> None:
    for path in (HEALTH_PATH, READY_PATH, METRICS_PATH):
        assert secured.get(path).status_code == 200


def test_without_keys_the_routes_are_open(sqlite_env: dict[str, str]) -> None:
    with serve(sqlite_env) as client:
        assert client.get("/graphs").status_code == 200


def test_key_comparison_checks_every_key() -> None:
    keys = (b"alpha", b"beta")
    assert key_matches(b"beta", keys)
    assert not key_matches(b"bet", keys)
    assert not key_matches(b"", keys)


def test_cors_allows_only_listed_origins(sqlite_env: dict[str, str]) -> None:
    with serve(sqlite_env, **{Env.CORS_ORIGINS: "https://app.example.com, https://admin.example.com"}) as client:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        allowed = client.options("/graphs/steps/invoke", headers={"origin": "https://app.example.com", **preflight})
        denied = client.options("/graphs/steps/invoke", headers={"origin": "https://evil.example.com", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in denied.headers


def test_wildcard_origin_is_rejected_at_startup() -> None:
    with pytest.raises(ValidationError, match="'\\*' is not allowed"):
        Settings(**{Env.CORS_ORIGINS: "*"})


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(ValidationError, match=Env.DB_POOL_MAX_SIZE):
        Settings(**{Env.DB_POOL_MIN_SIZE: "5", Env.DB_POOL_MAX_SIZE: "2"})
    with pytest.raises(ValidationError, match=Env.PORT):
        Settings(**{Env.PORT: "not-a-port"})


def test_secrets_do_not_show_in_settings_repr() -> None:
    settings = Settings(**{Env.API_KEYS: KEYS, Env.DATABASE_URL: "postgresql://u:hunter2@db/x"})
    assert "hunter2" not in repr(settings) and "first-key" not in repr(settings)
