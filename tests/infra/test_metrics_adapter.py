"""PrometheusAdapterRule: the rule exposes the metric the HPA asks for."""

from __future__ import annotations

import yaml

import infra
from app.contract import Metrics
from infra.metrics_adapter import VALUES_KEY, adapter_rule
from tests.infra.harness import (
    metric_names,
    with_provider,
)
from tests.tokens import Token


def test_adapter_rule_exposes_the_metric_the_hpa_requests():
    rule = adapter_rule()
    assert rule["name"]["as"] == Metrics.RUNS_IN_FLIGHT
    assert metric_names(rule["seriesQuery"]) == {Metrics.RUNS_IN_FLIGHT}
    run = with_provider(lambda o: infra.PrometheusAdapterRule("adapter", {"namespace": "team-a"}, o))
    values = yaml.safe_load(run.one(Token.CONFIG_MAP).inputs["data"][VALUES_KEY])
    assert values == {"rules": {"custom": [rule]}}
