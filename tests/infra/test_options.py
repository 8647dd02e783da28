"""A component's own resource options (depends_on, provider) reach every resource it creates.

The order of a first deploy rests on this: the migration Job waits for Postgres, the server and the
CronJobs wait for the migration. Ordering is read from the dependencies the program registers.
"""

import pulumi
import pulumi_kubernetes as k8s
import pytest

import infra
from infra.mocks import run_program, run_stack

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
    statefulset = run.one("kubernetes:apps/v1:StatefulSet")
    migration = run.one("kubernetes:batch/v1:Job")
    assert statefulset.urn in migration.dependencies
    assert migration.urn in run.one("kubernetes:apps/v1:Deployment").dependencies
    cron_jobs = {r.name: r for r in run.of_type("kubernetes:batch/v1:CronJob")}
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
    env = run.one("kubernetes:core/v1:ConfigMap").inputs["data"]
    assert float(env["MAX_RUN_SECONDS"]) == server.max_run_seconds
    assert int(env["DB_POOL_MAX_SIZE"]) == server.pool_max_size
    run = run_program(lambda: infra.CheckpointRetention("prune", COMPONENT_ARGS["CheckpointRetention"]))
    container = run.one("kubernetes:batch/v1:CronJob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in container["containers"][0]["env"]}
    assert int(env["PRUNE_BATCH_SIZE"]) == DEFAULT_BATCH_SIZE
