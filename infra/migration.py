"""SchemaMigration: a Job that sets up the checkpointer's schema once per image, before the server rolls."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from app import contract
from infra.image import env_secret_checkov_skips
from infra.labels import (
    DNS_EGRESS,
    container_security_context,
    pod_security_context,
    resources_spec,
    selector_labels,
    standard_labels,
)
from infra.postgres import DSN_KEY, POSTGRES_PORT, ResourcesArgs


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


class SchemaMigration(pulumi.ComponentResource):
    """Runs `app.contract.MIGRATE_COMMAND` from the server image; Pulumi waits for it to complete."""

    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: SchemaMigrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:SchemaMigration", name, None, opts)
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
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(),
                        "containers": [
                            {
                                "name": "migrate",
                                "image": args["image"],
                                "imagePullPolicy": "Always",
                                "command": list(contract.MIGRATE_COMMAND),
                                "env": [
                                    {
                                        "name": contract.Env.DATABASE_URL,
                                        "valueFrom": {
                                            "secretKeyRef": {"name": args["dsn_secret_name"], "key": DSN_KEY}
                                        },
                                    }
                                ],
                                "securityContext": container_security_context(),
                                "resources": resources_spec(resources),
                                "volumeMounts": [{"name": "tmp", "mountPath": contract.TMP_DIR}],
                            }
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        database_peers = [{"ipBlock": {"cidr": c}} for c in args.get("database_egress_cidrs", [])] or [
            {"podSelector": {}}
        ]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector_labels(name, "migration")},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [DNS_EGRESS, {"to": database_peers, "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"job_name": self.job_name})
