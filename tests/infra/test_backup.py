"""CheckpointBackup: the pg_dump CronJob and its claim."""

from __future__ import annotations

import infra
from infra.backup import BACKUP_DIR, PASSWORD_KEY, backup_script, pg_dump_argv
from infra.config import POSTGRES_IMAGE
from tests.infra.harness import (
    assert_all_use_provider,
    assert_reaches_only_dns_and_postgres,
    assert_restricted,
    cron_pod,
    with_provider,
)
from tests.tokens import Token


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
    claim = run.one(Token.PERSISTENT_VOLUME_CLAIM).inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    cron_job = run.one(Token.CRON_JOB)
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
