"""PrometheusAdapterRule: the rule exposes the metric the HPA asks for."""

from __future__ import annotations

import subprocess

import pytest
import yaml

import infra
from app.contract import Metrics
from infra.metrics_adapter import VALUES_KEY, adapter_rule
from tests.infra.harness import (
    metric_names,
    with_provider,
)
from tests.tokens import Token
from tools.validators import ValidatorUnavailable, find_tool


def test_adapter_rule_exposes_the_metric_the_hpa_requests():
    rule = adapter_rule()
    assert rule["name"]["as"] == Metrics.RUNS_IN_FLIGHT
    assert metric_names(rule["seriesQuery"]) == {Metrics.RUNS_IN_FLIGHT}
    run = with_provider(lambda o: infra.PrometheusAdapterRule("adapter", {"namespace": "team-a"}, o))
    values = yaml.safe_load(run.one(Token.CONFIG_MAP).inputs["data"][VALUES_KEY])
    assert values == {"rules": {"custom": [rule]}}


# What prometheus-adapter substitutes into the template for an HPA on pods `a` and `b` of namespace `team-a`.
ADAPTER_TEMPLATE_VALUES = {
    "<<.Series>>": Metrics.RUNS_IN_FLIGHT,
    "<<.LabelMatchers>>": 'namespace="team-a",pod=~"a|b"',
    "<<.GroupBy>>": "pod",
}


def _rendered_query() -> str:
    query = adapter_rule()["metricsQuery"]
    for placeholder, value in ADAPTER_TEMPLATE_VALUES.items():
        query = query.replace(placeholder, value)
    assert "<<" not in query, query
    return query


def test_adapter_query_reads_running_and_pending_runs():
    assert metric_names(_rendered_query()) == {Metrics.RUNS_IN_FLIGHT, Metrics.RUNS_PENDING}


def _promtool_eval(series: list[dict[str, str]], expected: list[dict[str, object]], tmp_path) -> None:
    try:
        promtool = find_tool("promtool")
    except ValidatorUnavailable as error:
        pytest.skip(str(error))
    rules = tmp_path / "empty.rules.yaml"
    rules.write_text("groups: []\n")
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": _rendered_query(), "eval_time": "1m", "exp_samples": expected}],
            }
        ],
    }
    (tmp_path / "adapter.test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    tested = subprocess.run(
        [promtool, "test", "rules", "adapter.test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_each_pod_is_served_its_running_runs_plus_an_equal_share_of_the_pending_ones(tmp_path):
    pod = 'namespace="team-a",pod="{}",instance="{}:8000"'
    _promtool_eval(
        [
            {"series": f"{Metrics.RUNS_IN_FLIGHT}{{{pod.format('a', 'a')}}}", "values": "3 3"},
            {"series": f"{Metrics.RUNS_IN_FLIGHT}{{{pod.format('b', 'b')}}}", "values": "1 1"},
            {"series": f"{Metrics.RUNS_PENDING}{{{pod.format('a', 'a')}}}", "values": "6 6"},
            {"series": f"{Metrics.RUNS_PENDING}{{{pod.format('b', 'b')}}}", "values": "6 6"},
        ],
        # (3 + 1 running + 6 pending) / 2 pods = 5 on average, what the HPA compares with its target.
        [{"labels": '{pod="a"}', "value": 6}, {"labels": '{pod="b"}', "value": 4}],
        tmp_path,
    )


def test_without_the_pending_gauge_each_pod_is_served_its_running_runs(tmp_path):
    _promtool_eval(
        [{"series": f'{Metrics.RUNS_IN_FLIGHT}{{namespace="team-a",pod="a"}}', "values": "2 2"}],
        [{"labels": '{pod="a"}', "value": 2}],
        tmp_path,
    )
