"""PostgresCheckpointStore: the database LangGraph checkpoints live in (in-cluster StatefulSet or external).

In-cluster, the store also generates a password per least-privilege role (`app.contract.DATABASE_ROLES`); the
migration creates the roles from them, the server and the prune job connect with their own DSN, the backup with
its own user. The data volume is resized in place (the StatefulSet's claim template is left as first created and
the claim itself is patched) and, with `protect`, nothing holding data is deleted or replaced by Pulumi.
"""

import hashlib
from typing import NotRequired, TypedDict
from urllib.parse import quote, urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .bundled_server import contract
from .config import Postgres, default
from .labels import DB_CLIENT_LABEL, selector_labels, standard_labels
from .network import POSTGRES_PORT
from .pods import container_security_context, pod_security_context, resources_spec

CREDENTIALS_MOUNT = "/run/secrets/postgres"
CREDENTIAL_KEYS = ("POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB")
DSN_KEY = contract.Env.DATABASE_URL
DATA_MOUNT = "/var/lib/postgresql/data"
DATA_CLAIM_TEMPLATE = "data"


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
    """Size of the data volume; a larger size later grows the volume in place (if its StorageClass allows)."""
    storage_class: NotRequired[str]
    database: NotRequired[str]
    user: NotRequired[str]
    """The database owner, used by the migration only."""
    resources: NotRequired[ResourcesArgs]
    max_connections: NotRequired[int]
    """`max_connections` of the in-cluster server (default: `Postgres.max_connections`)."""
    client_label_value: NotRequired[str]
    """Pods labelled `langgraph-k8s.io/postgres-client=<this>` may connect on 5432 (default: the store's name)."""
    protect: NotRequired[bool]
    """Protect the StatefulSet and keep the credentials on `destroy` (default: `Postgres.protect`)."""


class PostgresCheckpointStore(pulumi.ComponentResource):
    """A PostgreSQL database for LangGraph checkpoints, reachable only by labelled client pods."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    user: pulumi.Output[str]
    dsn: pulumi.Output[str]
    """The owner's connection string (secret), for the migration."""
    dsn_secret_name: pulumi.Output[str]
    """Name of the Secret holding the owner's DSN under key `DATABASE_URL`."""
    server_dsn: pulumi.Output[str]
    """The server role's connection string (secret); the owner's in `external` mode."""
    prune_dsn_secret_name: pulumi.Output[str]
    """Secret with the prune role's DSN under `DATABASE_URL`; the owner's in `external` mode."""
    roles_secret_name: pulumi.Output[str]
    """Secret with each role's password under its `app.contract.DATABASE_ROLES` variable; empty in `external` mode."""
    roles_checksum: pulumi.Output[str]
    """A hash of the role passwords (not secret): changes when one is rotated; empty in `external` mode."""
    backup_user: pulumi.Output[str]
    """The role backups connect as; its password is `DB_BACKUP_PASSWORD` of `roles_secret_name`."""
    client_labels: pulumi.Output[dict[str, str]]
    """Labels a pod needs to be admitted by the store's NetworkPolicy."""
    credentials_secret_name: pulumi.Output[str]
    """Secret with the owner's `POSTGRES_PASSWORD` of the in-cluster database; empty in `external` mode."""

    def __init__(self, name: str, args: PostgresCheckpointStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:PostgresCheckpointStore", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        mode = args.get("mode", default(Postgres, "mode"))
        if mode not in ("in-cluster", "external"):
            raise ValueError(f"PostgresCheckpointStore mode must be 'in-cluster' or 'external' (got {mode!r})")
        database = args.get("database", default(Postgres, "database"))
        user = args.get("user", default(Postgres, "user"))
        client_labels = {DB_CLIENT_LABEL: args.get("client_label_value", name)}
        labels = standard_labels(name, "postgres")

        def secret(suffix: str, data: pulumi.Input[dict], keep: bool = False) -> k8s.core.v1.Secret:
            return k8s.core.v1.Secret(
                f"{name}-{suffix}",
                metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=labels),
                type="Opaque",
                string_data=data,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=keep or None)),
            )

        if mode == "external":
            if args.get("external_dsn") is None:
                raise ValueError("PostgresCheckpointStore in 'external' mode needs external_dsn")
            dsn = pulumi.Output.secret(args["external_dsn"])
            host, port = dsn.apply(_dsn_host), dsn.apply(_dsn_port)
            dsn_secret = secret("dsn", {DSN_KEY: dsn})
            self.server_dsn = dsn
            self.prune_dsn_secret_name = dsn_secret.metadata.name
            self.roles_secret_name = self.roles_checksum = self.credentials_secret_name = pulumi.Output.from_input("")
            self.backup_user = pulumi.Output.from_input(user)
        else:
            protect = args.get("protect", default(Postgres, "protect"))
            service_name = f"{name}-postgres"
            host = pulumi.Output.concat(service_name, ".", namespace, ".svc.cluster.local")
            port = pulumi.Output.from_input(POSTGRES_PORT)
            owner_password = _password(f"{name}-password", child)
            passwords = {role: _password(f"{name}-{role}-password", child) for role in contract.DATABASE_ROLES}
            dsn = _dsn(user, owner_password, host, database)
            dsn_secret = secret("dsn", {DSN_KEY: dsn})
            credentials = secret(
                "credentials",
                {"POSTGRES_PASSWORD": owner_password, "POSTGRES_USER": user, "POSTGRES_DB": database},
                keep=protect,
            )
            roles = secret(
                "roles", {variable: passwords[role] for role, variable in contract.DATABASE_ROLES.items()}, keep=protect
            )
            prune_dsn = secret(
                "prune-dsn", {DSN_KEY: _dsn(contract.PRUNE_ROLE, passwords[contract.PRUNE_ROLE], host, database)}
            )
            self.server_dsn = _dsn(contract.SERVER_ROLE, passwords[contract.SERVER_ROLE], host, database)
            self.prune_dsn_secret_name = prune_dsn.metadata.name
            self.roles_secret_name = roles.metadata.name
            self.roles_checksum = pulumi.Output.unsecret(
                pulumi.Output.all(*passwords.values()).apply(
                    lambda values: hashlib.sha256("\0".join(values).encode()).hexdigest()
                )
            )
            self.backup_user = pulumi.Output.from_input(contract.BACKUP_ROLE)
            self.credentials_secret_name = credentials.metadata.name
            _database_server(name, service_name, args, credentials, client_labels, protect, child)

        self.host = host
        self.port = port
        self.database = pulumi.Output.from_input(database)
        self.user = pulumi.Output.from_input(user)
        self.dsn = dsn
        self.dsn_secret_name = dsn_secret.metadata.name
        self.client_labels = pulumi.Output.from_input(client_labels)
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database": self.database,
                "user": self.user,
                "dsn": self.dsn,
                "dsn_secret_name": self.dsn_secret_name,
                "server_dsn": self.server_dsn,
                "prune_dsn_secret_name": self.prune_dsn_secret_name,
                "roles_secret_name": self.roles_secret_name,
                "roles_checksum": self.roles_checksum,
                "backup_user": self.backup_user,
                "client_labels": self.client_labels,
                "credentials_secret_name": self.credentials_secret_name,
            }
        )


def _password(name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    return random.RandomPassword(name, length=32, special=False, opts=opts).result


def _dsn(user: str, password: pulumi.Output[str], host: pulumi.Output[str], database: str) -> pulumi.Output[str]:
    return pulumi.Output.secret(
        pulumi.Output.all(password, host).apply(
            lambda parts: f"postgresql://{user}:{quote(parts[0], safe='')}@{parts[1]}:{POSTGRES_PORT}/{database}"
        )
    )


def readiness_command(user: str, database: str) -> list[str]:
    """`pg_isready` over TCP on loopback, as the store's own user and database.

    TCP, not the socket: the image's first-start initialisation runs a server on the socket only, so the probe
    passes only once the real server accepts connections. `-U`/`-d` explicit: without them libpq takes the user
    name from the passwd entry of the uid, which the restricted pod's uid does not have (exit 3, no attempt).
    """
    return ["pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", user, "-d", database]


def _dsn_host(dsn: str) -> str:
    return urlsplit(dsn).hostname or ""


def _dsn_port(dsn: str) -> int:
    return urlsplit(dsn).port or POSTGRES_PORT


def _database_server(name, service_name, args, credentials, client_labels, protect: bool, opts) -> None:
    """The in-cluster database: Service, StatefulSet, the data claim's size, NetworkPolicy."""
    namespace = args["namespace"]
    labels = standard_labels(name, "postgres")
    selector = selector_labels(name, "postgres")
    storage = args.get("storage_size", default(Postgres, "storage_size"))
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=service_name, namespace=namespace, labels=labels),
        spec=k8s.core.v1.ServiceSpecArgs(
            selector=selector,
            ports=[k8s.core.v1.ServicePortArgs(name="postgres", port=POSTGRES_PORT, target_port="postgres")],
        ),
        opts=opts,
    )
    statefulset = k8s.apps.v1.StatefulSet(
        f"{name}-statefulset",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=service_name, namespace=namespace, labels=labels),
        spec=k8s.apps.v1.StatefulSetSpecArgs(
            service_name=service_name,
            replicas=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=pod_security_context(),
                    containers=[_postgres_container(args)],
                    volumes=[
                        k8s.core.v1.VolumeArgs(name="run", empty_dir={}),
                        k8s.core.v1.VolumeArgs(name="tmp", empty_dir={}),
                        k8s.core.v1.VolumeArgs(
                            name="credentials",
                            secret=k8s.core.v1.SecretVolumeSourceArgs(
                                secret_name=credentials.metadata.name, default_mode=0o440
                            ),
                        ),
                    ],
                ),
            ),
            volume_claim_templates=[_data_claim_template(storage, args.get("storage_class"))],
            # The claim outlives the StatefulSet: deleting or scaling it never deletes the data.
            persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                when_deleted="Retain", when_scaled="Retain"
            ),
        ),
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                depends_on=[service],
                protect=protect,
                # Claim templates cannot change: a new size would replace the StatefulSet (an outage) and still
                # not grow the volume. The size is applied to the claim itself below.
                ignore_changes=["spec.volumeClaimTemplates"],
            ),
        ),
    )
    k8s.core.v1.PersistentVolumeClaimPatch(
        f"{name}-data-size",
        metadata=k8s.meta.v1.ObjectMetaPatchArgs(
            name=f"{DATA_CLAIM_TEMPLATE}-{service_name}-0",
            namespace=namespace,
            annotations={"pulumi.com/patchForce": "true"},
        ),
        spec=k8s.core.v1.PersistentVolumeClaimSpecPatchArgs(
            resources=k8s.core.v1.VolumeResourceRequirementsPatchArgs(requests={"storage": storage})
        ),
        # Deleting the patch from the stack leaves the claim exactly as it is (its size included).
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[statefulset], retain_on_delete=True)
        ),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol",
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=labels),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            policy_types=["Ingress", "Egress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=client_labels)
                        )
                    ],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=POSTGRES_PORT)],
                )
            ],
            egress=[],
        ),
        opts=opts,
    )


def _data_claim_template(storage: str, storage_class: str | None) -> k8s.core.v1.PersistentVolumeClaimArgs:
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=DATA_CLAIM_TEMPLATE),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": storage}),
            storage_class_name=storage_class,
        ),
    )


def _postgres_container(args: PostgresCheckpointStoreArgs) -> k8s.core.v1.ContainerArgs:
    """The Postgres container: credentials from files, data on the claim, `max_connections` on its command line."""
    max_connections = args.get("max_connections", default(Postgres, "max_connections"))
    user = args.get("user", default(Postgres, "user"))
    database = args.get("database", default(Postgres, "database"))
    probe = {"exec": {"command": readiness_command(user, database)}}
    return k8s.core.v1.ContainerArgs(
        name="postgres",
        image=args.get("image", default(Postgres, "image")),
        image_pull_policy="Always",
        args=["postgres", "-c", f"max_connections={max_connections}"],
        ports=[k8s.core.v1.ContainerPortArgs(name="postgres", container_port=POSTGRES_PORT)],
        # The image's entrypoint reads each `<NAME>_FILE`: no secret in the environment.
        env=[
            k8s.core.v1.EnvVarArgs(name="PGDATA", value=f"{DATA_MOUNT}/pgdata"),
            *(
                k8s.core.v1.EnvVarArgs(name=f"{key}_FILE", value=f"{CREDENTIALS_MOUNT}/{key}")
                for key in CREDENTIAL_KEYS
            ),
        ],
        security_context=container_security_context(),
        resources=resources_spec(args.get("resources") or default(Postgres, "resources")),
        startup_probe={**probe, "periodSeconds": 5, "failureThreshold": 60},
        liveness_probe={**probe, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
        readiness_probe={**probe, "periodSeconds": 5, "timeoutSeconds": 3},
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=DATA_CLAIM_TEMPLATE, mount_path=DATA_MOUNT),
            k8s.core.v1.VolumeMountArgs(name="run", mount_path="/var/run/postgresql"),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=contract.TMP_DIR),
            k8s.core.v1.VolumeMountArgs(name="credentials", mount_path=CREDENTIALS_MOUNT, read_only=True),
        ],
    )
