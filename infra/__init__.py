"""Reusable Pulumi components that deploy a LangGraph server to Kubernetes."""

from infra.backup import CheckpointBackup, CheckpointBackupArgs
from infra.config import StackConfig, StackConfigError, load_stack_config, parse_stack_config, read_secrets
from infra.dashboard import GrafanaDashboard, GrafanaDashboardArgs
from infra.image import ServerImage, ServerImageArgs
from infra.ingress import Ingress, IngressArgs
from infra.metrics_adapter import PrometheusAdapterRule, PrometheusAdapterRuleArgs
from infra.migration import SchemaMigration, SchemaMigrationArgs
from infra.observability import ALERTS, Observability, ObservabilityArgs
from infra.platform import LangGraphPlatform, LangGraphPlatformArgs
from infra.postgres import PostgresCheckpointStore, PostgresCheckpointStoreArgs
from infra.retention import CheckpointRetention, CheckpointRetentionArgs
from infra.service import LangGraphService, LangGraphServiceArgs

COMPONENTS = (
    PostgresCheckpointStore,
    SchemaMigration,
    LangGraphService,
    Observability,
    Ingress,
    ServerImage,
    CheckpointRetention,
    CheckpointBackup,
    GrafanaDashboard,
    PrometheusAdapterRule,
    LangGraphPlatform,
)

__all__ = [
    "ALERTS",
    "COMPONENTS",
    "CheckpointBackup",
    "CheckpointBackupArgs",
    "CheckpointRetention",
    "CheckpointRetentionArgs",
    "GrafanaDashboard",
    "GrafanaDashboardArgs",
    "Ingress",
    "IngressArgs",
    "LangGraphPlatform",
    "LangGraphPlatformArgs",
    "LangGraphService",
    "LangGraphServiceArgs",
    "Observability",
    "ObservabilityArgs",
    "PostgresCheckpointStore",
    "PostgresCheckpointStoreArgs",
    "PrometheusAdapterRule",
    "PrometheusAdapterRuleArgs",
    "SchemaMigration",
    "SchemaMigrationArgs",
    "ServerImage",
    "ServerImageArgs",
    "StackConfig",
    "StackConfigError",
    "load_stack_config",
    "parse_stack_config",
    "read_secrets",
]
