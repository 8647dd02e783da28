"""PostgresCheckpointStore: in-cluster or external, its roles, its storage and what it protects."""

from __future__ import annotations

import infra
from app import contract
from infra.mocks import is_secret, reveal, run_stack
from tests.infra.harness import (
    assert_all_use_provider,
    with_provider,
)
from tests.tokens import Token


def test_store_probes_as_its_own_user_and_database():
    """The pod's uid has no passwd entry: without -U, pg_isready makes no attempt (exit 3; see tests/e2e)."""
    args = {"namespace": "a", "user": "agent", "database": "runs"}
    run = with_provider(lambda o: infra.PostgresCheckpointStore("store", args, o))
    container = run.one(Token.STATEFUL_SET).inputs["spec"]["template"]["spec"]["containers"][0]
    expected = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "agent", "-d", "runs"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == expected


def test_store_alone_in_cluster():
    run = with_provider(lambda o: infra.PostgresCheckpointStore("store", {"namespace": "team-a"}, o))
    assert_all_use_provider(run)
    statefulset = run.one(Token.STATEFUL_SET).inputs
    assert statefulset["metadata"]["name"] == "store-postgres"
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert "@sha256:" in container["image"]
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert run.one(Token.SERVICE).inputs["metadata"]["name"] == "store-postgres"
    for secret in run.of_type(Token.SECRET):
        assert is_secret(secret.inputs["stringData"])
    [dsn_secret] = [s for s in run.of_type(Token.SECRET) if s.name == "store-dsn"]
    dsn = dsn_secret.inputs["stringData"]["value"]
    assert dsn["DATABASE_URL"].startswith(
        "postgresql://langgraph:mock-generated-password-store-password@store-postgres.team-a"
    )


def test_store_alone_external_creates_only_the_dsn_secret():
    run = with_provider(
        lambda o: infra.PostgresCheckpointStore(
            "store", {"namespace": "team-a", "mode": "external", "external_dsn": "postgresql://u:p@db.example.com/x"}, o
        )
    )
    kinds = sorted(r.kind for r in run.kubernetes_objects())
    assert kinds == ["Secret"]
    assert not run.of_type(Token.RANDOM_PASSWORD)


def secret_data(run, name: str) -> dict:
    secret = next(r for r in run.of_type(Token.SECRET) if r.name == name)
    return reveal(secret.inputs["stringData"])


def env_of(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_in_cluster_workloads_use_their_own_roles():
    run = run_stack("prod")
    server_dsn = secret_data(run, "langgraph-server-secret")[contract.Env.DATABASE_URL]
    assert server_dsn.startswith(f"postgresql://{contract.SERVER_ROLE}:")
    assert secret_data(run, "langgraph-db-dsn")[contract.Env.DATABASE_URL].startswith("postgresql://langgraph:")
    assert secret_data(run, "langgraph-db-prune-dsn")[contract.Env.DATABASE_URL].startswith(
        f"postgresql://{contract.PRUNE_ROLE}:"
    )
    roles = secret_data(run, "langgraph-db-roles")
    assert set(roles) == set(contract.DATABASE_ROLES.values())
    passwords = {r.name for r in run.of_type(Token.RANDOM_PASSWORD)}
    assert {f"langgraph-db-{role}-password" for role in contract.DATABASE_ROLES} <= passwords  # one each

    [migrate] = run.one(Token.JOB).inputs["spec"]["template"]["spec"]["containers"]
    env = env_of(migrate)
    assert env[contract.Env.DATABASE_URL]["secretKeyRef"]["name"] == "langgraph-db-dsn-mock"
    for variable in contract.DATABASE_ROLES.values():
        assert env[variable] == {"secretKeyRef": {"name": "langgraph-db-roles-mock", "key": variable}}

    cron_jobs = {r.name: r.inputs for r in run.of_type(Token.CRON_JOB)}
    [prune] = cron_jobs["langgraph-retention-cronjob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert env_of(prune)[contract.Env.DATABASE_URL]["secretKeyRef"]["name"] == "langgraph-db-prune-dsn-mock"
    backup_pod = cron_jobs["langgraph-backup-cronjob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert f"--username={contract.BACKUP_ROLE}" in backup_pod["containers"][0]["command"][2]
    [password] = [v for v in backup_pod["volumes"] if v["name"] == "password"]
    assert password["secret"]["secretName"] == "langgraph-db-roles-mock"
    assert password["secret"]["items"] == [{"key": contract.Env.DB_BACKUP_PASSWORD, "path": "password"}]


def test_a_new_role_password_reruns_the_migration_that_sets_it():
    run = run_stack("prod")
    annotations = run.one(Token.JOB).inputs["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/roles"]) == 64


def test_external_database_is_used_as_given():
    run = run_stack(
        "dev",
        overrides={"postgres": {"mode": "external"}, "databaseUrl": "postgresql://app:pw@db.example.com/agents"},
        secrets=["databaseUrl"],
    )
    server_dsn = secret_data(run, "langgraph-server-secret")[contract.Env.DATABASE_URL]
    assert server_dsn == "postgresql://app:pw@db.example.com/agents"
    [migrate] = run.one(Token.JOB).inputs["spec"]["template"]["spec"]["containers"]
    assert not set(env_of(migrate)) & set(contract.DATABASE_ROLES.values())


def by_name(run, type_token: str) -> dict:
    return {r.name: r for r in run.of_type(type_token)}


def test_database_volume_grows_in_place_without_replacing_the_statefulset():
    run = run_stack("prod", overrides={"postgres": {"storageSize": "80Gi", "maxConnections": 400}})
    statefulset = run.one(Token.STATEFUL_SET)
    assert "spec.volumeClaimTemplates" in statefulset.ignore_changes
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = run.one(Token.PERSISTENT_VOLUME_CLAIM_PATCH)
    assert claim.inputs["metadata"]["name"] == "data-langgraph-db-postgres-0"  # the claim the template creates
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "80Gi"
    assert statefulset.urn in claim.dependencies
    assert claim.retain_on_delete  # removing the patch must not touch the claim


def test_data_is_protected_and_kept_on_destroy_by_default():
    run = run_stack("prod")
    assert run.one(Token.STATEFUL_SET).protect
    backup_claim = run.one(Token.PERSISTENT_VOLUME_CLAIM)
    assert backup_claim.protect and backup_claim.retain_on_delete
    secrets = by_name(run, Token.SECRET)
    assert secrets["langgraph-db-credentials"].retain_on_delete and secrets["langgraph-db-roles"].retain_on_delete
    assert run.one(Token.NAMESPACE).retain_on_delete  # deleting it would delete the volumes


def test_protection_can_be_turned_off_for_a_throwaway_cluster():
    run = run_stack("dev", overrides={"postgres": {"protect": False, "storageSize": "1Gi"}})
    assert not run.one(Token.STATEFUL_SET).protect
    assert not run.one(Token.NAMESPACE).retain_on_delete
    assert [r.type for r in run.resources if r.retain_on_delete] == [Token.PERSISTENT_VOLUME_CLAIM_PATCH]
