"""CheckpointRetention: a CronJob that prunes old checkpoint threads with the server image's prune command."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .config import Retention, default
from .image import env_secret_checkov_skips
from .labels import selector_labels, standard_labels
from .network import NetworkPeerArgs, database_client_policy
from .pods import resources_spec, run_once_pod
from .postgres import DSN_KEY, ResourcesArgs

DEFAULT_RESOURCES: ResourcesArgs = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
DEADLINE_SECONDS = 3600
"""A prune run is killed after an hour; the next scheduled run continues where it stopped (batches commit)."""


class CheckpointRetentionArgs(TypedDict):
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    """The server image (by digest); it ships `app.contract.PRUNE_COMMAND`."""
    dsn_secret_name: pulumi.Input[str]
    """Secret holding the DSN under `DATABASE_URL` (the store's `dsn_secret_name`)."""
    days: int
    """Threads whose last checkpoint is older than this many days are deleted."""
    interrupted_days: NotRequired[int]
    """Threads waiting on a human are kept this long instead (default: `days`)."""
    schedule: NotRequired[str]
    """Cron schedule in UTC (default: daily at 03:17)."""
    batch_size: NotRequired[int]
    """Threads deleted per transaction (default: `Retention.batch_size`)."""
    pod_labels: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra pod labels, e.g. the store's client label so its NetworkPolicy admits the pods."""
    resources: NotRequired[ResourcesArgs]
    database_egress_cidrs: NotRequired[list[str]]
    """Where the database lives when outside the cluster; otherwise the namespace's pods on 5432."""
    suspend: NotRequired[bool]
    """Start no new run (e.g. during a restore)."""
    dns_peers: NotRequired[list[NetworkPeerArgs]]
    """Where the pods resolve names (default: the kube-dns pods; see `infra.network.DNS_PRESETS`)."""


class CheckpointRetention(pulumi.ComponentResource):
    """Runs `app.contract.PRUNE_COMMAND` on a schedule, one run at a time, in a restricted pod."""

    cron_job_name: pulumi.Output[str]

    def __init__(self, name: str, args: CheckpointRetentionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:CheckpointRetention", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        days = args["days"]
        interrupted_days = args.get("interrupted_days", days)
        if days < 1 or interrupted_days < days:
            raise ValueError(
                f"CheckpointRetention needs days >= 1 and interrupted_days >= days (got {days}, {interrupted_days})"
            )
        labels = standard_labels(name, "retention")
        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {}).apply(lambda extra: {**labels, **extra})
        annotations = env_secret_checkov_skips(
            args["image"], f"The prune command reads {contract.Env.DATABASE_URL} from env only"
        )
        env = [
            {
                "name": contract.Env.DATABASE_URL,
                "valueFrom": {"secretKeyRef": {"name": args["dsn_secret_name"], "key": DSN_KEY}},
            },
            {"name": contract.Env.RETENTION_DAYS, "value": str(days)},
            {"name": contract.Env.RETENTION_INTERRUPTED_DAYS, "value": str(interrupted_days)},
            {
                "name": contract.Env.PRUNE_BATCH_SIZE,
                "value": str(args.get("batch_size", default(Retention, "batch_size"))),
            },
        ]
        cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"namespace": namespace, "labels": labels, "annotations": annotations},
            spec={
                "schedule": args.get("schedule", default(Retention, "schedule")),
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "suspend": args.get("suspend", False),
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": DEADLINE_SECONDS,
                        "template": run_once_pod(
                            pod_labels,
                            {
                                "name": "prune",
                                "image": args["image"],
                                "command": list(contract.PRUNE_COMMAND),
                                "env": env,
                                "resources": resources_spec(args.get("resources") or DEFAULT_RESOURCES),
                            },
                        ),
                    },
                },
            },
            opts=child,
        )
        database_client_policy(
            child,
            name,
            namespace,
            labels,
            selector_labels(name, "retention"),
            args.get("database_egress_cidrs"),
            args.get("dns_peers"),
        )
        self.cron_job_name = cron_job.metadata.name
        self.register_outputs({"cron_job_name": self.cron_job_name})
