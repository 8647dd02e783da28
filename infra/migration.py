"""SchemaMigration: a Job that sets up the checkpointer's schema once per image, before the server rolls."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .image import env_secret_checkov_skips
from .labels import selector_labels, standard_labels
from .network import NetworkPeerArgs, database_client_policy
from .pods import resources_spec, run_once_pod
from .postgres import DSN_KEY, ResourcesArgs


class SchemaMigrationArgs(TypedDict):
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    """The server image (by digest); a new image means a new Job."""
    dsn_secret_name: pulumi.Input[str]
    """Secret holding the DSN under `DATABASE_URL`."""
    pod_labels: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra pod labels, e.g. the store's client label so its NetworkPolicy admits the Job."""
    resources: NotRequired[ResourcesArgs]
    database_egress_cidrs: NotRequired[list[str]]
    """Where the database lives when it is outside the cluster; in-cluster pods are matched by namespace."""
    dns_peers: NotRequired[list[NetworkPeerArgs]]
    """Where the pods resolve names (default: the kube-dns pods; see `infra.network.DNS_PRESETS`)."""
    roles_secret_name: NotRequired[pulumi.Input[str]]
    """The store's `roles_secret_name`: the migration creates the least-privilege roles with these passwords."""
    roles_checksum: NotRequired[pulumi.Input[str]]
    """The store's `roles_checksum`: a rotated password gives a new Job, which sets it."""


class SchemaMigration(pulumi.ComponentResource):
    """Runs `app.contract.MIGRATE_COMMAND` from the server image; Pulumi waits for it to complete."""

    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: SchemaMigrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:SchemaMigration", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        labels = standard_labels(name, "migration")
        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {}).apply(lambda extra: {**labels, **extra})
        resources = args.get("resources") or {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        }
        job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={
                "namespace": namespace,
                "labels": labels,
                "annotations": env_secret_checkov_skips(
                    args["image"], f"The migrate command reads {contract.Env.DATABASE_URL} from env only"
                ),
            },
            spec={
                "backoffLimit": 4,
                "activeDeadlineSeconds": 900,
                "template": run_once_pod(
                    pod_labels,
                    {
                        "name": "migrate",
                        "image": args["image"],
                        "command": list(contract.MIGRATE_COMMAND),
                        "env": [
                            {
                                "name": contract.Env.DATABASE_URL,
                                "valueFrom": {"secretKeyRef": {"name": args["dsn_secret_name"], "key": DSN_KEY}},
                            },
                            *_role_passwords_env(args.get("roles_secret_name")),
                        ],
                        "resources": resources_spec(resources),
                    },
                    annotations={"checksum/roles": args["roles_checksum"]} if args.get("roles_checksum") else None,
                ),
            },
            opts=child,
        )
        database_client_policy(
            child,
            name,
            namespace,
            labels,
            selector_labels(name, "migration"),
            args.get("database_egress_cidrs"),
            args.get("dns_peers"),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"job_name": self.job_name})


def _role_passwords_env(roles_secret_name: pulumi.Input[str] | None) -> list[dict]:
    """The role passwords the migrate command sets (`app.contract.DATABASE_ROLES`), from the store's Secret."""
    if roles_secret_name is None:
        return []
    return [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": roles_secret_name, "key": variable}}}
        for variable in contract.DATABASE_ROLES.values()
    ]
