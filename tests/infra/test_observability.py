"""Observability: the ServiceMonitor and one alert rule per alert, with runbook links."""

from __future__ import annotations

import infra
from app import contract
from app.contract import Metrics
from infra.observability import alert_rules
from tests.infra.harness import (
    with_provider,
)
from tests.tokens import Token

README_ANCHORS = {alert.anchor for alert in infra.ALERTS}


def test_observability_alone_has_one_rule_per_alert():
    base = "https://git.example.com/ops/runbooks.md"
    run = with_provider(
        lambda o: infra.Observability(
            "obs", {"namespace": "team-a", "service_instance": "api", "runbook_base_url": base}, o
        )
    )
    rules = run.one(Token.PROMETHEUS_RULE).inputs["spec"]["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [a.name for a in infra.ALERTS]
    assert {r["annotations"]["runbook_url"] for r in rules} == {f"{base}#{anchor}" for anchor in README_ANCHORS}
    names = {
        "LangGraphHigh5xxRatio",
        "LangGraphSlowP95",
        "LangGraphMemoryNearLimit",
        "LangGraphDbPoolExhausted",
        "LangGraphPodCrashLooping",
        "LangGraphServerNotReady",
        "LangGraphRunErrorRatio",
        "LangGraphRunsTimingOut",
        "LangGraphCheckpointWriteSlow",
        "LangGraphCheckpointDbGrowingFast",
        "LangGraphOldThreadsNotPruned",
        "LangGraphRunQueueWaitHigh",
        "LangGraphRunLeasesExpiring",
        "LangGraphCronFiresFailing",
    }
    assert {a.name for a in infra.ALERTS} == names
    monitor = run.one(Token.SERVICE_MONITOR).inputs["spec"]
    assert monitor["endpoints"][0]["path"] == contract.METRICS_PATH


def test_new_alerts_use_configured_thresholds_and_have_runbooks():
    base = "https://git.example.com/ops/runbooks.md"
    rules = {r["alert"]: r for r in alert_rules("api-server", "team-a", {"oldest_thread_age_days": 32}, base)}
    growth = rules["LangGraphCheckpointDbGrowingFast"]
    assert growth["expr"] == f'max(delta({Metrics.CHECKPOINT_DB_SIZE}{{job="api-server"}}[6h])) > {2 * 1024**3}'
    oldest = rules["LangGraphOldThreadsNotPruned"]
    assert oldest["expr"] == f'max({Metrics.OLDEST_THREAD_AGE}{{job="api-server"}}) > {32 * 86400}'
    assert oldest["annotations"]["summary"] == "Checkpoint threads older than 32 days"
    for rule in (growth, oldest):
        assert rule["annotations"]["runbook_url"] == f"{base}#alert-{rule['alert'].lower()}"


def test_queue_alerts_read_the_engine_metrics_with_configured_thresholds():
    base = "https://git.example.com/ops/runbooks.md"
    thresholds = {"run_queue_wait_p95_seconds": 45, "run_lease_expiries_10m": 0}
    rules = {r["alert"]: r for r in alert_rules("api-server", "team-a", thresholds, base)}
    wait = rules["LangGraphRunQueueWaitHigh"]
    assert wait["expr"] == (
        f"histogram_quantile(0.95, sum by (le) (rate({Metrics.RUN_QUEUE_WAIT_DURATION}_bucket"
        '{job="api-server"}[10m]))) > 45'
    )
    assert "above 45s" in wait["annotations"]["description"]
    leases = rules["LangGraphRunLeasesExpiring"]
    assert leases["expr"] == f'sum(increase({Metrics.RUN_LEASE_EXPIRIES}{{job="api-server"}}[10m])) > 0'
    for rule in (wait, leases):
        assert rule["annotations"]["runbook_url"] == f"{base}#alert-{rule['alert'].lower()}"
    defaults = {r["alert"]: r["expr"] for r in alert_rules("api-server", "team-a", {})}
    assert defaults["LangGraphRunQueueWaitHigh"].endswith(" > 60.0")
    assert defaults["LangGraphRunLeasesExpiring"].endswith(" > 2")
