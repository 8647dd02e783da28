"""Operations as code: retention and backup CronJobs, the dashboard, the adapter rule and the new alerts.

Each component alone with an explicit provider, the stacks' wiring, and the dashboard's PromQL parsed with
a real PromQL parser: every metric a panel queries must be one the server exports, checked against the
contract and against `/metrics` of a real server process on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json

import promql_parser
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import infra
from app import contract
from app.contract import Metrics
from app.migrate import migrate
from app.server.main import create_app
from app.server.settings import Settings
from infra.backup import BACKUP_DIR, PASSWORD_KEY, backup_script, pg_dump_argv
from infra.config import POSTGRES_IMAGE
from infra.dashboard import dashboard_json, dashboard_queries
from infra.metrics_adapter import VALUES_KEY, adapter_rule
from infra.mocks import run_program, run_stack
from infra.observability import RETENTION_ALERT_SLACK_DAYS, alert_rules
from tests.infra.test_components import assert_all_use_provider, with_provider

SERVER_IMAGE = "ghcr.io/a/server@sha256:" + "1" * 64
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def cron_pod(cron_job) -> dict:
    return cron_job.inputs["spec"]["jobTemplate"]["spec"]["template"]


def assert_restricted(cron_job) -> None:
    spec = cron_job.inputs["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] <= 2
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["runAsUser"] > 10000 and security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == contract.TMP_DIR)
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


def assert_reaches_only_dns_and_postgres(run, cron_job) -> None:
    [policy] = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= cron_pod(cron_job)["metadata"]["labels"].items()
    assert spec["ingress"] == []
    assert [p["port"] for rule in spec["egress"] for p in rule["ports"]] == [53, 53, 5432]


# --- CheckpointRetention --------------------------------------------------------------------------------------------


def test_retention_alone_runs_the_prune_command_on_schedule():
    args = {
        "namespace": "team-a",
        "image": SERVER_IMAGE,
        "dsn_secret_name": "store-dsn",
        "days": 30,
        "interrupted_days": 90,
        "schedule": "0 4 * * 1",
        "batch_size": 200,
        "pod_labels": {"langgraph-k8s.io/postgres-client": "store"},
    }
    run = with_provider(lambda o: infra.CheckpointRetention("prune", args, o))
    assert_all_use_provider(run)
    cron_job = run.one("kubernetes:batch/v1:CronJob")
    assert cron_job.inputs["spec"]["schedule"] == "0 4 * * 1"
    assert_restricted(cron_job)
    assert_reaches_only_dns_and_postgres(run, cron_job)
    pod = cron_pod(cron_job)
    assert pod["metadata"]["labels"]["langgraph-k8s.io/postgres-client"] == "store"
    [container] = pod["spec"]["containers"]
    assert container["image"] == SERVER_IMAGE
    assert container["command"] == contract.PRUNE_COMMAND
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env == {
        contract.Env.DATABASE_URL: {"secretKeyRef": {"name": "store-dsn", "key": "DATABASE_URL"}},
        contract.Env.RETENTION_DAYS: "30",
        contract.Env.RETENTION_INTERRUPTED_DAYS: "90",
        contract.Env.PRUNE_BATCH_SIZE: "200",
    }
    annotations = cron_job.inputs["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"].startswith("CKV_K8S_35=")
    assert "checkov.io/skip2" not in annotations  # the image is pinned, so the digest check applies


def test_retention_rejects_interrupted_days_below_days():
    with pytest.raises(ValueError, match=r"interrupted_days >= days \(got 30, 7\)"):
        with_provider(
            lambda o: infra.CheckpointRetention(
                "prune",
                {"namespace": "a", "image": SERVER_IMAGE, "dsn_secret_name": "s", "days": 30, "interrupted_days": 7},
                o,
            )
        )


# --- CheckpointBackup -----------------------------------------------------------------------------------------------


def test_backup_alone_dumps_to_a_claim_with_the_password_from_a_file():
    args = {
        "namespace": "team-a",
        "host": "store-postgres.team-a.svc.cluster.local",
        "credentials_secret_name": "store-credentials",
        "database": "agents",
        "user": "agent",
        "keep": 5,
        "schedule": "15 1 * * *",
        "storage_size": "20Gi",
        "storage_class": "fast",
        "pod_labels": {"langgraph-k8s.io/postgres-client": "store"},
    }
    run = with_provider(lambda o: infra.CheckpointBackup("backup", args, o))
    assert_all_use_provider(run)
    claim = run.one("kubernetes:core/v1:PersistentVolumeClaim").inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    cron_job = run.one("kubernetes:batch/v1:CronJob")
    assert cron_job.inputs["spec"]["schedule"] == "15 1 * * *"
    assert_restricted(cron_job)
    assert_reaches_only_dns_and_postgres(run, cron_job)
    pod = cron_pod(cron_job)["spec"]
    [container] = pod["containers"]
    assert container["image"] == POSTGRES_IMAGE
    host = "store-postgres.team-a.svc.cluster.local"
    assert container["command"] == ["/bin/sh", "-c", backup_script(host, 5432, "agent", "agents")]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["KEEP"] == "5" and env["BACKUP_DIR"] == BACKUP_DIR
    assert not any("valueFrom" in e for e in container["env"])  # the password is a file, never env
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"]["claimName"] == "backup-pvc-mock"
    assert volumes["password"]["secret"]["secretName"] == "store-credentials"
    assert volumes["password"]["secret"]["items"] == [{"key": PASSWORD_KEY, "path": "password"}]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["backups"] == BACKUP_DIR and env["PASSWORD_FILE"].startswith(mounts["password"] + "/")
    assert "checkov.io/skip1" not in (cron_job.inputs["metadata"].get("annotations") or {})


def test_pg_dump_command_line_is_custom_format_without_password_prompt():
    argv = pg_dump_argv("db.example", 5432, "agent", "agents")
    assert argv[0] == "pg_dump"
    assert {"--format=custom", "--no-password", "--host=db.example", "--username=agent", "--dbname=agents"} <= set(argv)
    script = backup_script("db.example", 5432, "agent", "agents")
    assert " ".join(argv) + ' --file="$target.partial"' in script


# --- dashboard, adapter rule ----------------------------------------------------------------------------------------


def test_dashboard_alone_is_a_labelled_configmap():
    run = with_provider(
        lambda o: infra.GrafanaDashboard(
            "dash", {"namespace": "team-a", "service_instance": "api", "folder": "Agents"}, o
        )
    )
    assert_all_use_provider(run)
    config_map = run.one("kubernetes:core/v1:ConfigMap").inputs
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


def metric_names(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects, found by walking the parsed syntax tree."""
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"selector without a metric name in {expr!r}"
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(
            node,
            promql_parser.AggregateExpr
            | promql_parser.ParenExpr
            | promql_parser.UnaryExpr
            | promql_parser.SubqueryExpr,
        ):
            walk(node.expr)
        else:
            assert isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral), type(node)

    walk(promql_parser.parse(expr))
    return names


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


def test_adapter_rule_exposes_the_metric_the_hpa_requests():
    rule = adapter_rule()
    assert rule["name"]["as"] == Metrics.RUNS_IN_FLIGHT
    assert metric_names(rule["seriesQuery"]) == {Metrics.RUNS_IN_FLIGHT}
    run = with_provider(lambda o: infra.PrometheusAdapterRule("adapter", {"namespace": "team-a"}, o))
    values = yaml.safe_load(run.one("kubernetes:core/v1:ConfigMap").inputs["data"][VALUES_KEY])
    assert values == {"rules": {"custom": [rule]}}


# --- alerts ---------------------------------------------------------------------------------------------------------


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


# --- the stacks -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


def test_prod_wires_retention_backup_dashboard_and_adapter(prod):
    [prune, backup] = sorted(prod.of_type("kubernetes:batch/v1:CronJob"), key=lambda r: "backup" in r.name)
    assert prune.inputs["spec"]["schedule"] == "17 3 * * *"
    env = {e["name"]: e.get("value") for e in cron_pod(prune)["spec"]["containers"][0]["env"]}
    assert (env[contract.Env.RETENTION_DAYS], env[contract.Env.RETENTION_INTERRUPTED_DAYS]) == ("30", "90")
    server = prod.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    assert cron_pod(prune)["spec"]["containers"][0]["image"] == server["image"]
    dsn_secret = next(s for s in prod.of_type("kubernetes:core/v1:Secret") if s.name.endswith("-db-prune-dsn"))
    secret_ref = cron_pod(prune)["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
    assert secret_ref["name"] == dsn_secret.outputs["metadata"]["name"]

    assert backup.inputs["spec"]["schedule"] == "30 2 * * *"
    backup_env = {e["name"]: e["value"] for e in cron_pod(backup)["spec"]["containers"][0]["env"]}
    assert backup_env["KEEP"] == "14"
    statefulset = prod.one("kubernetes:apps/v1:StatefulSet").inputs["spec"]["template"]["spec"]["containers"][0]
    assert cron_pod(backup)["spec"]["containers"][0]["image"] == statefulset["image"]  # pg_dump matches the server
    credentials = next(s for s in prod.of_type("kubernetes:core/v1:Secret") if s.name.endswith("-db-roles"))
    password_volume = next(v for v in cron_pod(backup)["spec"]["volumes"] if v["name"] == "password")
    assert password_volume["secret"]["secretName"] == credentials.outputs["metadata"]["name"]
    claim = prod.one("kubernetes:core/v1:PersistentVolumeClaim").inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"

    dashboards = [c for c in prod.of_type("kubernetes:core/v1:ConfigMap") if "dashboard" in c.name]
    assert [d.inputs["metadata"]["labels"]["grafana_dashboard"] for d in dashboards] == ["1"]
    hpa = prod.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    pods_metric = next(m["pods"]["metric"]["name"] for m in hpa["metrics"] if m["type"] == "Pods")
    adapter = next(c for c in prod.of_type("kubernetes:core/v1:ConfigMap") if "adapter" in c.name)
    exposed = yaml.safe_load(adapter.inputs["data"][VALUES_KEY])["rules"]["custom"][0]["name"]["as"]
    assert pods_metric == exposed


def test_prod_unpruned_thread_alert_follows_retention(prod):
    rules = prod.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]["groups"][0]["rules"]
    oldest = next(r for r in rules if r["alert"] == "LangGraphOldThreadsNotPruned")
    assert oldest["expr"].endswith(f"> {(90 + RETENTION_ALERT_SLACK_DAYS) * 86400}")


def test_dev_runs_retention_without_backup_or_dashboard():
    dev = run_stack("dev")
    [prune] = dev.of_type("kubernetes:batch/v1:CronJob")
    assert cron_pod(prune)["spec"]["containers"][0]["command"] == contract.PRUNE_COMMAND
    assert not dev.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert [c.name for c in dev.of_type("kubernetes:core/v1:ConfigMap")] == ["langgraph-server-config"]


def test_operations_are_off_when_not_configured():
    run = run_program(lambda: infra.LangGraphPlatform("lg", {"settings": {}}))
    assert not run.of_type("kubernetes:batch/v1:CronJob")
    assert not run.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert [c.name for c in run.of_type("kubernetes:core/v1:ConfigMap")] == ["lg-server-config"]
