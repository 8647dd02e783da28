"""LangGraphPlatform: a restricted namespace with the image, database, migration, server, monitoring, ingress."""

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
        holds_data = cfg.postgres.protect and (cfg.postgres.mode == "in-cluster" or cfg.backup.enabled)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))

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
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=holds_data or None)),
        )
        ns = namespace.metadata.name
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"namespace": ns},
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=child,
        )

        image = ServerImage(
            f"{name}-image",
            {
                "repository": cfg.image.repository,
                "tag": cfg.image.tag,
                "context": cfg.image.build.context,
                "dockerfile": cfg.image.build.dockerfile,
                "platform": cfg.image.build.platform,
                "push": cfg.image.build.push,
                **({"reference": cfg.image.reference} if cfg.image.reference else {}),
            },
            child,
        )

        pg = cfg.postgres
        dns_peers = cfg.egress.dns.peers()
        external = pg.mode == "external"
        client_labels = {DB_CLIENT_LABEL: f"{name}-db"}
        store = PostgresCheckpointStore(
            f"{name}-db",
            {
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
                **({"storage_class": pg.storage_class} if pg.storage_class else {}),
                **({"external_dsn": args["database_url"]} if external else {}),
            },
            child,
        )
        database_cidrs = EXTERNAL_DATABASE_CIDRS if external else []

        migration = SchemaMigration(
            f"{name}-migrate",
            {
                "namespace": ns,
                "image": image.image_ref,
                "dsn_secret_name": store.dsn_secret_name,
                "pod_labels": client_labels,
                "database_egress_cidrs": database_cidrs,
                "dns_peers": dns_peers,
                **(
                    {}
                    if external
                    else {"roles_secret_name": store.roles_secret_name, "roles_checksum": store.roles_checksum}
                ),
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[store])),
        )

        api_keys: pulumi.Output[list[str]] | None = None
        self.api_key = pulumi.Output.secret("")
        if cfg.server.auth:
            key = random.RandomPassword(f"{name}-api-key", length=40, special=False, opts=child)
            self.api_key = pulumi.Output.secret(key.result)
            api_keys = key.result.apply(lambda k: [k])

        ingress = cfg.ingress
        scaling = cfg.autoscaling
        service = LangGraphService(
            f"{name}-server",
            {
                "namespace": ns,
                "image": image.image_ref,
                "database_url": store.server_dsn,
                **({"api_keys": api_keys} if api_keys is not None else {}),
                **({"provider_keys": args["provider_keys"]} if args.get("provider_keys") is not None else {}),
                "replicas": 0 if cfg.restoring else cfg.replicas,
                **(
                    {
                        "autoscaling": {
                            "min_replicas": scaling.min_replicas,
                            "max_replicas": scaling.max_replicas,
                            "cpu_target_percent": scaling.cpu_target_percent,
                            "memory_target_percent": scaling.memory_target_percent,
                            "scale_down_stabilization_seconds": scaling.scale_down_stabilization_seconds,
                            **(
                                {"in_flight_runs_target": scaling.in_flight_runs_target}
                                if scaling.in_flight_runs_target
                                else {}
                            ),
                        }
                    }
                    if scaling.enabled and not cfg.restoring
                    else {}
                ),
                "resources": cfg.resources.model_dump(),
                "log_level": cfg.server.log_level,
                "cors_origins": list(cfg.server.cors_origins),
                "max_run_seconds": cfg.server.max_run_seconds,
                "db_pool_max_size": cfg.server.db_pool_max_size,
                "pod_labels": client_labels,
                "ingress_from": ingress.sources(),
                "dns_peers": dns_peers,
                "prometheus_namespace": cfg.observability.prometheus_namespace,
                "database_egress_cidrs": database_cidrs,
                "https_egress_cidrs": list(cfg.egress.https_cidrs),
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[migration])),
        )

        retention = cfg.retention
        if retention is not None:
            CheckpointRetention(
                f"{name}-retention",
                {
                    "namespace": ns,
                    "image": image.image_ref,
                    "dsn_secret_name": store.prune_dsn_secret_name,
                    "days": retention.days,
                    "interrupted_days": retention.interrupted_days or retention.days,
                    "schedule": retention.schedule,
                    "batch_size": retention.batch_size,
                    "suspend": cfg.restoring,
                    "pod_labels": client_labels,
                    "database_egress_cidrs": database_cidrs,
                    "dns_peers": dns_peers,
                },
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[migration])),
            )
        if cfg.backup.enabled:
            backup = cfg.backup
            CheckpointBackup(
                f"{name}-backup",
                {
                    "namespace": ns,
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
                    **({"storage_class": backup.storage_class} if backup.storage_class else {}),
                    "pod_labels": client_labels,
                    "dns_peers": dns_peers,
                },
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[store])),
            )
        if scaling.enabled and scaling.in_flight_runs_target:
            PrometheusAdapterRule(f"{name}-metrics-adapter", {"namespace": ns}, child)

        if cfg.observability.enabled:
            thresholds = cfg.observability.thresholds.model_dump()
            thresholds["oldest_thread_age_days"] = oldest_thread_age_days(
                thresholds["oldest_thread_age_days"], retention.kept_days if retention else None
            )
            Observability(
                f"{name}-observability",
                {
                    "namespace": ns,
                    "service_instance": f"{name}-server",
                    "thresholds": thresholds,
                    "rule_labels": dict(cfg.observability.rule_labels),
                    **(
                        {"runbook_base_url": cfg.observability.runbook_base_url}
                        if cfg.observability.runbook_base_url
                        else {}
                    ),
                },
                child,
            )
        if cfg.dashboard.enabled:
            GrafanaDashboard(
                f"{name}-dashboard",
                {
                    "namespace": ns,
                    "service_instance": f"{name}-server",
                    "folder": cfg.dashboard.folder,
                    "label": cfg.dashboard.label,
                },
                child,
            )

        route = Ingress(
            f"{name}-ingress",
            {
                "namespace": ns,
                "mode": ingress.mode,
                "service_name": service.service_name,
                "service_port": contract.HTTP_PORT,
                "max_run_seconds": cfg.server.max_run_seconds,
                **({"host": ingress.host} if ingress.host else {}),
                **(
                    {
                        "gateway": {
                            "name": ingress.gateway.name,
                            "namespace": ingress.gateway.namespace,
                            **({"section_name": ingress.gateway.section_name} if ingress.gateway.section_name else {}),
                        }
                    }
                    if ingress.gateway
                    else {}
                ),
                **({"ingress_class_name": ingress.ingress_class_name} if ingress.ingress_class_name else {}),
                **({"tls_issuer": ingress.tls_issuer} if ingress.tls_issuer else {}),
            },
            child,
        )

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
