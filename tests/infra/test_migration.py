"""SchemaMigration alone: a restricted Job that migrates as the owner and sets the least-privilege roles."""

import infra
from app import contract
from tests.infra.harness import SERVER_IMAGE, assert_all_use_provider, with_provider
from tests.tokens import Token


def test_migration_alone_migrates_and_sets_the_roles():
    args = {
        "namespace": "team-a",
        "image": SERVER_IMAGE,
        "dsn_secret_name": "store-dsn",
        "roles_secret_name": "store-roles",
        "roles_checksum": "c" * 64,
        "pod_labels": {"langgraph-k8s.io/postgres-client": "store"},
    }
    run = with_provider(lambda o: infra.SchemaMigration("migrate", args, o))
    assert_all_use_provider(run)
    job = run.one(Token.JOB).inputs["spec"]
    pod = job["template"]
    assert pod["metadata"]["annotations"] == {"checksum/roles": "c" * 64}
    assert pod["metadata"]["labels"]["langgraph-k8s.io/postgres-client"] == "store"
    [container] = pod["spec"]["containers"]
    assert container["command"] == contract.MIGRATE_COMMAND and container["image"] == SERVER_IMAGE
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env[contract.Env.DATABASE_URL] == {"name": "store-dsn", "key": contract.Env.DATABASE_URL}
    for variable in contract.DATABASE_ROLES.values():
        assert env[variable] == {"name": "store-roles", "key": variable}
    assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["automountServiceAccountToken"] is False
    policy = run.one(Token.NETWORK_POLICY).inputs["spec"]
    assert [p["port"] for rule in policy["egress"] for p in rule["ports"]] == [53, 53, 5432]


def test_migration_without_roles_only_migrates():
    run = with_provider(
        lambda o: infra.SchemaMigration(
            "migrate", {"namespace": "team-a", "image": SERVER_IMAGE, "dsn_secret_name": "dsn"}, o
        )
    )
    pod = run.one(Token.JOB).inputs["spec"]["template"]
    assert "annotations" not in pod["metadata"]
    assert [e["name"] for e in pod["spec"]["containers"][0]["env"]] == [contract.Env.DATABASE_URL]
