"""A component's own resource options (depends_on, provider) reach every resource it creates.

The order of a first deploy rests on this: the migration Job waits for Postgres, the server and the
CronJobs wait for the migration. Ordering is read from the dependencies the program registers.
"""

import pulumi
import pulumi_kubernetes as k8s
import pytest

import infra
from infra.mocks import run_program, run_stack
from tests.tokens import Token

SERVER_IMAGE = "ghcr.io/a/server@sha256:" + "1" * 64
COMPONENT_ARGS = {
    "PostgresCheckpointStore": {"namespace": "team-a"},
    "SchemaMigration": {"namespace": "team-a", "image": SERVER_IMAGE, "dsn_secret_name": "dsn"},
    "LangGraphService": {"namespace": "team-a", "image": SERVER_IMAGE, "database_url": "postgresql://x"},
    "Observability": {"namespace": "team-a", "service_instance": "api"},
    "Ingress": {
        "namespace": "team-a",
        "mode": "gateway",
        "service_name": "api",
        "service_port": 8000,
        "host": "a.example.com",
        "gateway": {"name": "gw", "namespace": "gw"},
    },
    "ServerImage": {"repository": "ghcr.io/a/server"},
    "CheckpointRetention": {"namespace": "team-a", "image": SERVER_IMAGE, "dsn_secret_name": "dsn", "days": 7},
    "CheckpointBackup": {"namespace": "team-a", "host": "db", "credentials_secret_name": "creds"},
    "GrafanaDashboard": {"namespace": "team-a", "service_instance": "api"},
    "PrometheusAdapterRule": {"namespace": "team-a"},
}


@pytest.mark.parametrize("component", [c for c in infra.COMPONENTS if c.__name__ in COMPONENT_ARGS])
def test_depends_on_given_to_a_component_reaches_every_child(component):
    def program():
        first = k8s.core.v1.ConfigMap("must-exist-first", metadata={"namespace": "team-a"})
        component("unit", COMPONENT_ARGS[component.__name__], pulumi.ResourceOptions(depends_on=[first]))

    run = run_program(program)
    first = next(r for r in run.resources if r.name == "must-exist-first")
    children = [r for r in run.resources if r.custom and r.name != first.name]
    assert children
    for child in children:
        assert first.urn in child.dependencies, f"{child.type} {child.name} does not wait for depends_on"


def test_first_deploy_order_postgres_then_migration_then_server_and_cronjobs():
    run = run_stack("prod")
    statefulset = run.one(Token.STATEFUL_SET)
    migration = run.one(Token.JOB)
    assert statefulset.urn in migration.dependencies
    assert migration.urn in run.one(Token.DEPLOYMENT).dependencies
    cron_jobs = {r.name: r for r in run.of_type(Token.CRON_JOB)}
    assert migration.urn in cron_jobs["langgraph-retention-cronjob"].dependencies  # prunes the migrated tables
    assert statefulset.urn in cron_jobs["langgraph-backup-cronjob"].dependencies  # dumps whatever the database holds


def test_each_default_both_halves_need_has_one_value():
    """The server's own defaults, the stack config's and a component's used alone agree."""
    from app.prune import DEFAULT_BATCH_SIZE
    from app.server.settings import Settings
    from infra.config import Retention, StackConfig

    server = Settings(_env_file=None)
    stack = StackConfig()
    assert server.max_run_seconds == stack.server.max_run_seconds
    assert server.pool_max_size == stack.server.db_pool_max_size
    assert Retention(days=1).batch_size == DEFAULT_BATCH_SIZE

    run = run_program(lambda: infra.LangGraphService("api", COMPONENT_ARGS["LangGraphService"]))
    env = run.one(Token.CONFIG_MAP).inputs["data"]
    assert float(env["MAX_RUN_SECONDS"]) == server.max_run_seconds
    assert int(env["DB_POOL_MAX_SIZE"]) == server.pool_max_size
    run = run_program(lambda: infra.CheckpointRetention("prune", COMPONENT_ARGS["CheckpointRetention"]))
    container = run.one(Token.CRON_JOB).inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in container["containers"][0]["env"]}
    assert int(env["PRUNE_BATCH_SIZE"]) == DEFAULT_BATCH_SIZE


def test_a_service_alone_falls_back_to_the_stack_configs_defaults():
    from infra.config import Autoscaling, Observability

    args = {**COMPONENT_ARGS["LangGraphService"], "autoscaling": {"min_replicas": 2, "max_replicas": 4}}
    run = run_program(lambda: infra.LangGraphService("api", args))
    hpa = run.one(Token.HORIZONTAL_POD_AUTOSCALER).inputs["spec"]
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": Autoscaling().cpu_target_percent, "memory": Autoscaling().memory_target_percent}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == Autoscaling().scale_down_stabilization_seconds
    [prometheus] = run.one(Token.NETWORK_POLICY).inputs["spec"]["ingress"][0]["from"]
    assert prometheus["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == (
        Observability().prometheus_namespace
    )
