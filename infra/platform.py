"""LangGraphPlatform: a restricted namespace with the image, database, migration, server, monitoring, ingress."""

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .backup import CheckpointBackup
from .bundled_server import contract
from .config import StackConfig
from .dashboard import GrafanaDashboard
from .image import ServerImage
from .ingress import Ingress
from .labels import DB_CLIENT_LABEL, PART_OF
from .metrics_adapter import PrometheusAdapterRule
from .migration import SchemaMigration
from .observability import Observability, oldest_thread_age_days
from .postgres import PostgresCheckpointStore
from .retention import CheckpointRetention
from .service import LangGraphService

EXTERNAL_DATABASE_CIDRS = ["0.0.0.0/0"]
"""An external database's address is not known here, so its port is open to any address."""


class LangGraphPlatformArgs(TypedDict):
    settings: dict[str, Any]
    """The stack config object (camelCase keys, see infra/config.py); validated on construction."""
    database_url: NotRequired[pulumi.Input[str]]
    """DSN of an external database (postgres.mode `external`)."""
    provider_keys: NotRequired[pulumi.Input[dict[str, str]]]
    """Model-provider credentials for the server, env var name to value."""


class LangGraphPlatform(pulumi.ComponentResource):
    """A complete LangGraph server deployment on Kubernetes."""

    namespace: pulumi.Output[str]
    service_dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    image_digest: pulumi.Output[str]
    database_host: pulumi.Output[str]
    api_key: pulumi.Output[str]
    """The generated API key (secret); empty when auth is off."""

    def __init__(self, name: str, args: LangGraphPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:LangGraphPlatform", name, None, opts)
        cfg = StackConfig.model_validate(args["settings"])
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(resources)))

        ns = _restricted_namespace(name, cfg, child)
        image = ServerImage(f"{name}-image", _image_args(cfg), child)
        client_labels = {DB_CLIENT_LABEL: f"{name}-db"}
        store = PostgresCheckpointStore(f"{name}-db", _store_args(cfg, ns, client_labels, args), child)
        wiring = _Wiring(
            namespace=ns,
            image=image.image_ref,
            pod_labels=client_labels,
            dns_peers=cfg.egress.dns.peers(),
            database_egress_cidrs=EXTERNAL_DATABASE_CIDRS if cfg.postgres.mode == "external" else [],
        )
        migration = SchemaMigration(f"{name}-migrate", _migration_args(cfg, wiring, store), after(store))

        self.api_key = pulumi.Output.secret("")
        api_keys: pulumi.Output[list[str]] | None = None
        if cfg.server.auth:
            key = random.RandomPassword(f"{name}-api-key", length=40, special=False, opts=child)
            self.api_key = pulumi.Output.secret(key.result)
            api_keys = key.result.apply(lambda k: [k])
        service = LangGraphService(
            f"{name}-server",
            _service_args(cfg, wiring, store.server_dsn, api_keys, args.get("provider_keys")),
            after(migration),
        )

        if cfg.retention is not None:
            CheckpointRetention(f"{name}-retention", _retention_args(cfg, wiring, store), after(migration))
        if cfg.backup.enabled:
            CheckpointBackup(f"{name}-backup", _backup_args(cfg, wiring, store), after(store))
        if cfg.autoscaling.enabled and cfg.autoscaling.in_flight_runs_target:
            PrometheusAdapterRule(f"{name}-metrics-adapter", {"namespace": ns}, child)
        if cfg.observability.enabled:
            Observability(f"{name}-observability", _observability_args(cfg, ns, f"{name}-server"), child)
        if cfg.dashboard.enabled:
            dashboard = {"namespace": ns, "service_instance": f"{name}-server"}
            GrafanaDashboard(
                f"{name}-dashboard", {**dashboard, "folder": cfg.dashboard.folder, "label": cfg.dashboard.label}, child
            )
        route = Ingress(f"{name}-ingress", _route_args(cfg, ns, service.service_name), child)

        self.namespace = ns
        self.service_dns_name = service.dns_name
        self.url = route.url
        self.image_digest = image.digest
        self.database_host = store.host
        self.register_outputs(
            {
                "namespace": self.namespace,
                "service_dns_name": self.service_dns_name,
                "url": self.url,
                "image_digest": self.image_digest,
                "database_host": self.database_host,
                "api_key": self.api_key,
            }
        )


@dataclass(frozen=True)
class _Wiring:
    """What every workload that talks to the database shares."""

    namespace: pulumi.Output[str]
    image: pulumi.Output[str]
    pod_labels: dict[str, str]
    """The store's client label, so its NetworkPolicy admits the pod."""
    dns_peers: list[dict[str, Any]]
    database_egress_cidrs: list[str]

    def common(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "pod_labels": self.pod_labels,
            "dns_peers": self.dns_peers,
            "database_egress_cidrs": self.database_egress_cidrs,
        }


def _present(**values: Any) -> dict[str, Any]:
    """The arguments that are set (not None): optional component arguments are left out, not passed as None."""
    return {key: value for key, value in values.items() if value is not None}


def _restricted_namespace(name: str, cfg: StackConfig, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """The namespace (Pod Security Admission `restricted`) and its default-deny NetworkPolicy."""
    holds_data = cfg.postgres.protect and (cfg.postgres.mode == "in-cluster" or cfg.backup.enabled)
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={
            "name": cfg.namespace,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "app.kubernetes.io/part-of": PART_OF,
            },
        },
        # Deleting a namespace deletes its volumes: `destroy` leaves it when it holds protected data.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=holds_data or None)),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny",
        metadata={"namespace": namespace.metadata.name},
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        opts=opts,
    )
    return namespace.metadata.name


def _image_args(cfg: StackConfig) -> dict[str, Any]:
    build = cfg.image.build
    return {
        "repository": cfg.image.repository,
        "tag": cfg.image.tag,
        "context": build.context,
        "dockerfile": build.dockerfile,
        "platform": build.platform,
        "push": build.push,
        **_present(reference=cfg.image.reference),
    }


def _store_args(cfg: StackConfig, ns, client_labels: dict[str, str], args: LangGraphPlatformArgs) -> dict[str, Any]:
    pg = cfg.postgres
    return {
        "client_label_value": client_labels[DB_CLIENT_LABEL],
        "namespace": ns,
        "mode": pg.mode,
        "image": pg.image,
        "storage_size": pg.storage_size,
        "database": pg.database,
        "user": pg.user,
        "resources": pg.resources.model_dump(),
        "max_connections": pg.max_connections,
        "protect": pg.protect,
        **_present(
            storage_class=pg.storage_class, external_dsn=args["database_url"] if pg.mode == "external" else None
        ),
    }


def _migration_args(cfg: StackConfig, wiring: _Wiring, store: PostgresCheckpointStore) -> dict[str, Any]:
    roles = {"roles_secret_name": store.roles_secret_name, "roles_checksum": store.roles_checksum}
    return {
        **wiring.common(),
        "image": wiring.image,
        "dsn_secret_name": store.dsn_secret_name,
        **(roles if cfg.postgres.mode == "in-cluster" else {}),
    }


def _autoscaling_args(cfg: StackConfig) -> dict[str, Any] | None:
    """The HPA's bounds and targets; none while restoring, when the server is held at zero."""
    scaling = cfg.autoscaling
    if not scaling.enabled or cfg.restoring:
        return None
    return {
        "min_replicas": scaling.min_replicas,
        "max_replicas": scaling.max_replicas,
        "cpu_target_percent": scaling.cpu_target_percent,
        "memory_target_percent": scaling.memory_target_percent,
        "scale_down_stabilization_seconds": scaling.scale_down_stabilization_seconds,
        **_present(in_flight_runs_target=scaling.in_flight_runs_target),
    }


def _service_args(cfg: StackConfig, wiring: _Wiring, database_url, api_keys, provider_keys) -> dict[str, Any]:
    server = cfg.server
    return {
        **wiring.common(),
        "image": wiring.image,
        "database_url": database_url,
        **_present(api_keys=api_keys, provider_keys=provider_keys, autoscaling=_autoscaling_args(cfg)),
        "replicas": 0 if cfg.restoring else cfg.replicas,
        "resources": cfg.resources.model_dump(),
        "log_level": server.log_level,
        "cors_origins": list(server.cors_origins),
        "max_run_seconds": server.max_run_seconds,
        "db_pool_max_size": server.db_pool_max_size,
        "ingress_from": cfg.ingress.sources(),
        "prometheus_namespace": cfg.observability.prometheus_namespace,
        "https_egress_cidrs": list(cfg.egress.https_cidrs),
    }


def _retention_args(cfg: StackConfig, wiring: _Wiring, store: PostgresCheckpointStore) -> dict[str, Any]:
    retention = cfg.retention
    assert retention is not None
    return {
        **wiring.common(),
        "image": wiring.image,
        "dsn_secret_name": store.prune_dsn_secret_name,
        "days": retention.days,
        "interrupted_days": retention.interrupted_days or retention.days,
        "schedule": retention.schedule,
        "batch_size": retention.batch_size,
        "suspend": cfg.restoring,
    }


def _backup_args(cfg: StackConfig, wiring: _Wiring, store: PostgresCheckpointStore) -> dict[str, Any]:
    backup, pg = cfg.backup, cfg.postgres
    return {
        "namespace": wiring.namespace,
        "pod_labels": wiring.pod_labels,
        "dns_peers": wiring.dns_peers,
        "host": store.host,
        "credentials_secret_name": store.roles_secret_name,
        "database": pg.database,
        "user": contract.BACKUP_ROLE,
        "protect": pg.protect,
        "image": pg.image,
        "schedule": backup.schedule,
        "keep": backup.keep,
        "suspend": cfg.restoring,
        "storage_size": backup.storage_size,
        **_present(storage_class=backup.storage_class),
    }


def _observability_args(cfg: StackConfig, ns, service_instance: str) -> dict[str, Any]:
    observability = cfg.observability
    thresholds = observability.thresholds.model_dump()
    thresholds["oldest_thread_age_days"] = oldest_thread_age_days(
        thresholds["oldest_thread_age_days"], cfg.retention.kept_days if cfg.retention else None
    )
    return {
        "namespace": ns,
        "service_instance": service_instance,
        "thresholds": thresholds,
        "rule_labels": dict(observability.rule_labels),
        **_present(runbook_base_url=observability.runbook_base_url),
    }


def _route_args(cfg: StackConfig, ns, service_name) -> dict[str, Any]:
    ingress = cfg.ingress
    gateway = ingress.gateway
    return {
        "namespace": ns,
        "mode": ingress.mode,
        "service_name": service_name,
        "service_port": contract.HTTP_PORT,
        "max_run_seconds": cfg.server.max_run_seconds,
        **_present(
            host=ingress.host,
            gateway=(
                {"name": gateway.name, "namespace": gateway.namespace, **_present(section_name=gateway.section_name)}
                if gateway
                else None
            ),
            ingress_class_name=ingress.ingress_class_name,
            tls_issuer=ingress.tls_issuer,
        ),
    }
