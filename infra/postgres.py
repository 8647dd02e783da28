"""PostgresCheckpointStore: the database LangGraph checkpoints live in (in-cluster StatefulSet or external)."""

from typing import NotRequired, TypedDict
from urllib.parse import quote, urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .bundled_server import contract
from .config import POSTGRES_IMAGE
from .labels import (
    DB_CLIENT_LABEL,
    DNS_EGRESS,
    container_security_context,
    pod_security_context,
    resources_spec,
    selector_labels,
    standard_labels,
)

POSTGRES_PORT = 5432
CREDENTIALS_MOUNT = "/run/secrets/postgres"
CREDENTIAL_KEYS = ("POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB")
DSN_KEY = "DATABASE_URL"
DATA_MOUNT = "/var/lib/postgresql/data"


class ResourceAmountsArgs(TypedDict):
    cpu: str
    memory: str


class ResourcesArgs(TypedDict):
    requests: ResourceAmountsArgs
    limits: ResourceAmountsArgs


class PostgresCheckpointStoreArgs(TypedDict):
    namespace: pulumi.Input[str]
    """Namespace for every object of the store."""
    mode: NotRequired[str]
    """`in-cluster` (a StatefulSet) or `external` (only a Secret with `external_dsn`)."""
    external_dsn: NotRequired[pulumi.Input[str]]
    """DSN of an existing database; required in `external` mode."""
    image: NotRequired[str]
    """Postgres image pinned by digest."""
    storage_size: NotRequired[str]
    storage_class: NotRequired[str]
    database: NotRequired[str]
    user: NotRequired[str]
    resources: NotRequired[ResourcesArgs]
    client_label_value: NotRequired[str]
    """Pods labelled `langgraph-k8s.io/postgres-client=<this>` may connect on 5432 (default: the store's name)."""


class PostgresCheckpointStore(pulumi.ComponentResource):
    """A PostgreSQL database for LangGraph checkpoints, reachable only by labelled client pods."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    user: pulumi.Output[str]
    dsn: pulumi.Output[str]
    """The connection string (secret)."""
    dsn_secret_name: pulumi.Output[str]
    """Name of the Secret holding the DSN under key `DATABASE_URL`."""
    client_labels: pulumi.Output[dict[str, str]]
    """Labels a pod needs to be admitted by the store's NetworkPolicy."""
    credentials_secret_name: pulumi.Output[str]
    """Secret with `POSTGRES_PASSWORD` of the in-cluster database (e.g. for backups); empty in `external` mode."""

    def __init__(self, name: str, args: PostgresCheckpointStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:PostgresCheckpointStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = args["namespace"]
        mode = args.get("mode", "in-cluster")
        if mode not in ("in-cluster", "external"):
            raise ValueError(f"PostgresCheckpointStore mode must be 'in-cluster' or 'external' (got {mode!r})")
        database = args.get("database", "langgraph")
        user = args.get("user", "langgraph")
        client_labels = {DB_CLIENT_LABEL: args.get("client_label_value", name)}

        credentials_secret_name = pulumi.Output.from_input("")
        if mode == "external":
            if args.get("external_dsn") is None:
                raise ValueError("PostgresCheckpointStore in 'external' mode needs external_dsn")
            dsn = pulumi.Output.secret(args["external_dsn"])
            host = dsn.apply(_dsn_host)
            port = dsn.apply(_dsn_port)
        else:
            service_name = f"{name}-postgres"
            password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
            host = pulumi.Output.concat(service_name, ".", namespace, ".svc.cluster.local")
            port = pulumi.Output.from_input(POSTGRES_PORT)
            dsn = pulumi.Output.secret(
                pulumi.Output.all(password.result, host).apply(
                    lambda parts: (
                        f"postgresql://{user}:{quote(parts[0], safe='')}@{parts[1]}:{POSTGRES_PORT}/{database}"
                    )
                )
            )
            credentials = k8s.core.v1.Secret(
                f"{name}-credentials",
                metadata={"namespace": namespace, "labels": standard_labels(name, "postgres")},
                type="Opaque",
                string_data={"POSTGRES_PASSWORD": password.result, "POSTGRES_USER": user, "POSTGRES_DB": database},
                opts=child,
            )
            credentials_secret_name = credentials.metadata.name
            self._in_cluster(name, service_name, args, namespace, credentials, client_labels, child)

        dsn_secret = k8s.core.v1.Secret(
            f"{name}-dsn",
            metadata={"namespace": namespace, "labels": standard_labels(name, "postgres")},
            type="Opaque",
            string_data={DSN_KEY: dsn},
            opts=child,
        )
        self.host = host
        self.port = port
        self.database = pulumi.Output.from_input(database)
        self.user = pulumi.Output.from_input(user)
        self.dsn = dsn
        self.dsn_secret_name = dsn_secret.metadata.name
        self.client_labels = pulumi.Output.from_input(client_labels)
        self.credentials_secret_name = credentials_secret_name
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database": self.database,
                "user": self.user,
                "dsn": self.dsn,
                "dsn_secret_name": self.dsn_secret_name,
                "client_labels": self.client_labels,
                "credentials_secret_name": self.credentials_secret_name,
            }
        )

    def _in_cluster(self, name, service_name, args, namespace, credentials, client_labels, child) -> None:
        labels = standard_labels(name, "postgres")
        selector = selector_labels(name, "postgres")
        resources = args.get("resources") or {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }
        probe = {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT)]}}
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": service_name, "namespace": namespace, "labels": labels},
            spec={
                "selector": selector,
                "ports": [{"name": "postgres", "port": POSTGRES_PORT, "targetPort": "postgres"}],
            },
            opts=child,
        )
        volume_claim = {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": args.get("storage_size", "5Gi")}},
                **({"storageClassName": args["storage_class"]} if args.get("storage_class") else {}),
            },
        }
        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": service_name, "namespace": namespace, "labels": labels},
            spec={
                "serviceName": service_name,
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(),
                        "containers": [
                            {
                                "name": "postgres",
                                "image": args.get("image", POSTGRES_IMAGE),
                                "imagePullPolicy": "Always",
                                "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
                                # The image's entrypoint reads each `<NAME>_FILE`: no secret in the environment.
                                "env": [
                                    {"name": "PGDATA", "value": f"{DATA_MOUNT}/pgdata"},
                                    *(
                                        {"name": f"{key}_FILE", "value": f"{CREDENTIALS_MOUNT}/{key}"}
                                        for key in CREDENTIAL_KEYS
                                    ),
                                ],
                                "securityContext": container_security_context(),
                                "resources": resources_spec(resources),
                                "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
                                "livenessProbe": {
                                    **probe,
                                    "periodSeconds": 10,
                                    "timeoutSeconds": 5,
                                    "failureThreshold": 6,
                                },
                                "readinessProbe": {**probe, "periodSeconds": 5, "timeoutSeconds": 3},
                                "volumeMounts": [
                                    {"name": "data", "mountPath": DATA_MOUNT},
                                    {"name": "run", "mountPath": "/var/run/postgresql"},
                                    {"name": "tmp", "mountPath": contract.TMP_DIR},
                                    {"name": "credentials", "mountPath": CREDENTIALS_MOUNT, "readOnly": True},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "run", "emptyDir": {}},
                            {"name": "tmp", "emptyDir": {}},
                            {
                                "name": "credentials",
                                "secret": {"secretName": credentials.metadata.name, "defaultMode": 0o440},
                            },
                        ],
                    },
                },
                "volumeClaimTemplates": [volume_claim],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": client_labels}}],
                        "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
                    }
                ],
                "egress": [],
            },
            opts=child,
        )


def _dsn_host(dsn: str) -> str:
    return urlsplit(dsn).hostname or ""


def _dsn_port(dsn: str) -> int:
    return urlsplit(dsn).port or POSTGRES_PORT


def database_client_policy(
    parent: pulumi.Resource,
    name: str,
    namespace: pulumi.Input[str],
    labels: dict,
    selector: dict,
    egress_cidrs: list[str] | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy letting a job's pods resolve names and reach Postgres on 5432, and nothing else.

    Outside the cluster the database is at `egress_cidrs`; inside, it is any pod of the namespace (the store's
    own policy admits only labelled clients).
    """
    database_peers = [{"ipBlock": {"cidr": c}} for c in egress_cidrs or []] or [{"podSelector": {}}]
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol",
        metadata={"namespace": namespace, "labels": labels},
        spec={
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [DNS_EGRESS, {"to": database_peers, "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}],
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
