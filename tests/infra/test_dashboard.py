"""GrafanaDashboard, and every metric a panel or alert queries: parsed with a real PromQL parser and checked
against the contract and against a real server's /metrics."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import infra
from app import contract
from app.contract import Metrics
from app.migrate import migrate
from app.server.main import create_app
from app.server.settings import Settings
from infra.dashboard import dashboard_json, dashboard_queries
from infra.observability import alert_rules
from tests.infra.harness import (
    assert_all_use_provider,
    metric_names,
    with_provider,
)
from tests.tokens import Token

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def test_dashboard_alone_is_a_labelled_configmap():
    run = with_provider(
        lambda o: infra.GrafanaDashboard(
            "dash", {"namespace": "team-a", "service_instance": "api", "folder": "Agents"}, o
        )
    )
    assert_all_use_provider(run)
    config_map = run.one(Token.CONFIG_MAP).inputs
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"]["grafana_folder"] == "Agents"
    [(key, text)] = config_map["data"].items()
    assert key.endswith(".json")
    dashboard = json.loads(text)
    assert dashboard == dashboard_json("api")
    titles = {p["title"] for p in dashboard["panels"]}
    assert {
        "Request rate by route",
        "5xx ratio",
        "Request latency",
        "Runs by graph and outcome",
        "Runs in flight",
        "Database pool saturation",
        "Checkpoint database size",
    } <= titles
    assert all('job="api"' in q for q in dashboard_queries(dashboard))


def test_the_query_walker_finds_every_selector():
    expr = (
        'histogram_quantile(0.9, sum by (le) (rate(a_bucket{job="x"}[5m]))) / -(b - on() c) + max_over_time(d[1h:5m])'
    )
    assert metric_names(expr) == {"a_bucket", "b", "c", "d"}


def contract_series() -> set[str]:
    """Series names the contract promises: each metric, or for a histogram (`*_DURATION`) its bucket/sum/count."""
    names = {k: v for k, v in vars(Metrics).items() if k.isupper()}
    return {
        v + suffix for k, v in names.items() for suffix in (HISTOGRAM_SUFFIXES if k.endswith("DURATION") else ("",))
    }


def dashboard_metrics() -> set[str]:
    return {name for query in dashboard_queries(dashboard_json("api")) for name in metric_names(query)}


def test_every_dashboard_query_uses_only_contract_metrics():
    used = dashboard_metrics()
    assert used <= contract_series(), used - contract_series()
    assert {Metrics.RUNS_IN_FLIGHT, Metrics.POOL_WAITING, Metrics.CHECKPOINT_DB_SIZE} <= used


@pytest.fixture
def exported_series(postgres_dsn: str, tmp_path) -> set[str]:
    """Series names `/metrics` of a real server on a migrated PostgreSQL declares (from its `# TYPE` lines)."""
    settings = Settings(**{contract.Env.DATABASE_URL: postgres_dsn, contract.Env.DATA_DIR: str(tmp_path)})
    asyncio.run(migrate(settings))
    with TestClient(create_app(settings)) as client:
        client.get(contract.HEALTH_PATH)
        text = client.get(contract.METRICS_PATH).text
    names = set()
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in HISTOGRAM_SUFFIXES}
        else:
            names.add(family.name)
    return names


def test_every_dashboard_and_alert_metric_is_exported_by_the_server(exported_series: set[str]):
    alert_metrics = {
        name
        for rule in alert_rules("api-server", "team-a", {})
        for name in metric_names(rule["expr"])
        if name.startswith("langgraph_")
    }
    missing = (dashboard_metrics() | alert_metrics) - exported_series
    assert not missing, f"queried but not exported by the server: {sorted(missing)}"


def test_every_contract_metric_is_exported_by_the_server(exported_series: set[str]):
    missing = contract_series() - exported_series
    assert not missing, f"in app.contract.Metrics but not exported by the server: {sorted(missing)}"
