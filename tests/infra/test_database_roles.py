"""Each workload connects with its own least-privilege role; only the migration uses the database owner."""

from app import contract
from infra.mocks import reveal, run_stack


def secret_data(run, name: str) -> dict:
    secret = next(r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == name)
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
    passwords = {r.name for r in run.of_type("random:index/randomPassword:RandomPassword")}
    assert {f"langgraph-db-{role}-password" for role in contract.DATABASE_ROLES} <= passwords  # one each

    [migrate] = run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]["containers"]
    env = env_of(migrate)
    assert env[contract.Env.DATABASE_URL]["secretKeyRef"]["name"] == "langgraph-db-dsn-mock"
    for variable in contract.DATABASE_ROLES.values():
        assert env[variable] == {"secretKeyRef": {"name": "langgraph-db-roles-mock", "key": variable}}

    cron_jobs = {r.name: r.inputs for r in run.of_type("kubernetes:batch/v1:CronJob")}
    [prune] = cron_jobs["langgraph-retention-cronjob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert env_of(prune)[contract.Env.DATABASE_URL]["secretKeyRef"]["name"] == "langgraph-db-prune-dsn-mock"
    backup_pod = cron_jobs["langgraph-backup-cronjob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert f"--username={contract.BACKUP_ROLE}" in backup_pod["containers"][0]["command"][2]
    [password] = [v for v in backup_pod["volumes"] if v["name"] == "password"]
    assert password["secret"]["secretName"] == "langgraph-db-roles-mock"
    assert password["secret"]["items"] == [{"key": contract.Env.DB_BACKUP_PASSWORD, "path": "password"}]


def test_a_new_role_password_reruns_the_migration_that_sets_it():
    run = run_stack("prod")
    annotations = run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/roles"]) == 64


def test_external_database_is_used_as_given():
    run = run_stack(
        "dev",
        overrides={"postgres": {"mode": "external"}, "databaseUrl": "postgresql://app:pw@db.example.com/agents"},
        secrets=["databaseUrl"],
    )
    server_dsn = secret_data(run, "langgraph-server-secret")[contract.Env.DATABASE_URL]
    assert server_dsn == "postgresql://app:pw@db.example.com/agents"
    [migrate] = run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]["containers"]
    assert not set(env_of(migrate)) & set(contract.DATABASE_ROLES.values())
