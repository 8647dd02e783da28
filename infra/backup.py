"""CheckpointBackup: a CronJob that `pg_dump`s the in-cluster checkpoint database to a PersistentVolumeClaim.

The dump command line is built here once (`pg_dump_argv`, `backup_script`) and used by both the CronJob and
the restore test, so what is tested is what runs. Restore with `pg_restore_argv` (see docs/operations.md).
"""

import shlex
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .config import Backup, Postgres, default
from .labels import selector_labels, standard_labels
from .network import POSTGRES_PORT, NetworkPeerArgs, database_client_policy
from .pods import resources_spec, run_once_pod
from .postgres import ResourcesArgs

BACKUP_DIR = "/backups"
PASSWORD_DIR = "/var/run/secrets/postgres"  # noqa: S105 - a mount path, not a password
PASSWORD_KEY = contract.Env.DB_BACKUP_PASSWORD
"""Key of the store's roles Secret that holds the backup role's password."""
DUMP_SUFFIX = ".dump"
DEADLINE_SECONDS = 3 * 3600
DEFAULT_RESOURCES: ResourcesArgs = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


def pg_dump_argv(host: str, port: int, user: str, database: str) -> list[str]:
    """`pg_dump` of one database in custom format (compressed, restorable selectively); append `--file=<path>`."""
    return [
        "pg_dump",
        "--format=custom",
        "--no-password",
        f"--host={host}",
        f"--port={port}",
        f"--username={user}",
        f"--dbname={database}",
    ]


def pg_restore_argv(host: str, port: int, user: str, database: str, dump_file: str) -> list[str]:
    """`pg_restore` of a custom-format dump into an empty `database`, all or nothing, owned by `user`."""
    return [
        "pg_restore",
        "--no-password",
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        f"--host={host}",
        f"--port={port}",
        f"--username={user}",
        f"--dbname={database}",
        dump_file,
    ]


def backup_script(host: str, port: int, user: str, database: str) -> str:
    """The CronJob's shell script: dump to `$BACKUP_DIR/<db>-<UTC time>.dump`, then keep only the newest `$KEEP`.

    Reads `$PASSWORD_FILE`, `$BACKUP_DIR` and `$KEEP` from the environment. The dump is written under a
    `.partial` name and renamed when complete, so a failed run never leaves a truncated file that counts as kept.
    """
    prefix = shlex.quote(f"{database}-")
    return "\n".join(
        [
            "set -eu",
            'PGPASSWORD="$(cat "$PASSWORD_FILE")"',
            "export PGPASSWORD",
            f'target="$BACKUP_DIR/"{prefix}"$(date -u +%Y%m%dT%H%M%SZ){DUMP_SUFFIX}"',
            'rm -f "$BACKUP_DIR"/*.partial',
            f'{shlex.join(pg_dump_argv(host, port, user, database))} --file="$target.partial"',
            'mv "$target.partial" "$target"',
            f'ls -1 "$BACKUP_DIR"/{prefix}*{DUMP_SUFFIX} | sort -r | tail -n +"$((KEEP + 1))" | xargs -r rm -f --',
            'echo "backup written: $target ($(wc -c < "$target") bytes); keeping the newest $KEEP"',
        ]
    )


class CheckpointBackupArgs(TypedDict):
    namespace: pulumi.Input[str]
    host: pulumi.Input[str]
    """The database's Service host name (the store's `host`)."""
    credentials_secret_name: pulumi.Input[str]
    """Secret holding the password under `password_key` (the store's `roles_secret_name`)."""
    password_key: NotRequired[str]
    """Key of the password in `credentials_secret_name` (default `DB_BACKUP_PASSWORD`, the backup role's)."""
    database: NotRequired[str]
    user: NotRequired[str]
    """The role to dump as (the store's `backup_user`); it needs only SELECT."""
    port: NotRequired[int]
    suspend: NotRequired[bool]
    """Start no new dump (e.g. during a restore)."""
    protect: NotRequired[bool]
    """Protect the backup claim and keep it on `destroy` (default: `Postgres.protect`)."""
    image: NotRequired[str]
    """Postgres image by digest; the database's own image, so pg_dump matches its version (default: the store's)."""
    schedule: NotRequired[str]
    """Cron schedule in UTC (default: daily at 02:30)."""
    keep: NotRequired[int]
    """Dump files kept (default 7)."""
    storage_size: NotRequired[str]
    storage_class: NotRequired[str]
    pod_labels: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra pod labels, e.g. the store's client label so its NetworkPolicy admits the pods."""
    resources: NotRequired[ResourcesArgs]
    dns_peers: NotRequired[list[NetworkPeerArgs]]
    """Where the pods resolve names (default: the kube-dns pods; see `infra.network.DNS_PRESETS`)."""


class CheckpointBackup(pulumi.ComponentResource):
    """Custom-format dumps of the checkpoint database on a schedule, the newest `keep` kept on a PVC."""

    claim_name: pulumi.Output[str]
    cron_job_name: pulumi.Output[str]

    def __init__(self, name: str, args: CheckpointBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:CheckpointBackup", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        keep = args.get("keep", default(Backup, "keep"))
        if keep < 1:
            raise ValueError(f"CheckpointBackup keep must be at least 1 (got {keep})")
        labels = standard_labels(name, "backup")
        protect = args.get("protect", default(Postgres, "protect"))
        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {}).apply(lambda extra: {**labels, **extra})
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pvc",
            metadata={
                "namespace": namespace,
                "labels": labels,
                # Storage classes that bind on first consumer leave the claim Pending until the first run.
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": args.get("storage_size", default(Backup, "storage_size"))}},
                **({"storageClassName": args["storage_class"]} if args.get("storage_class") else {}),
            },
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)),
        )
        script = pulumi.Output.from_input(args["host"]).apply(
            lambda host: backup_script(
                host,
                args.get("port", POSTGRES_PORT),
                args.get("user", contract.BACKUP_ROLE),
                args.get("database", default(Postgres, "database")),
            )
        )
        cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "schedule": args.get("schedule", default(Backup, "schedule")),
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "suspend": args.get("suspend", False),
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 1,
                        "activeDeadlineSeconds": DEADLINE_SECONDS,
                        "template": run_once_pod(
                            pod_labels,
                            {
                                "name": "pg-dump",
                                "image": args.get("image", default(Postgres, "image")),
                                "command": ["/bin/sh", "-c", script],
                                "env": [
                                    {"name": "BACKUP_DIR", "value": BACKUP_DIR},
                                    {"name": "KEEP", "value": str(keep)},
                                    {"name": "PASSWORD_FILE", "value": f"{PASSWORD_DIR}/password"},
                                    {"name": "HOME", "value": contract.TMP_DIR},
                                ],
                                "resources": resources_spec(args.get("resources") or DEFAULT_RESOURCES),
                                "volumeMounts": [
                                    {"name": "backups", "mountPath": BACKUP_DIR},
                                    {"name": "password", "mountPath": PASSWORD_DIR, "readOnly": True},
                                ],
                            },
                            volumes=(
                                {"name": "backups", "persistentVolumeClaim": {"claimName": claim.metadata.name}},
                                {
                                    "name": "password",
                                    "secret": {
                                        "secretName": args["credentials_secret_name"],
                                        "items": [{"key": args.get("password_key", PASSWORD_KEY), "path": "password"}],
                                        "defaultMode": 0o440,
                                    },
                                },
                            ),
                        ),
                    },
                },
            },
            opts=child,
        )
        database_client_policy(
            child, name, namespace, labels, selector_labels(name, "backup"), dns_peers=args.get("dns_peers")
        )
        self.claim_name = claim.metadata.name
        self.cron_job_name = cron_job.metadata.name
        self.register_outputs({"claim_name": self.claim_name, "cron_job_name": self.cron_job_name})
