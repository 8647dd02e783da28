"""Reusable Pulumi components that deploy a LangGraph server to Kubernetes."""

from .backup import CheckpointBackup, CheckpointBackupArgs
from .bundled_server import SERVER_DIR
from .config import StackConfig, StackConfigError, load_stack_config, parse_stack_config, read_secrets
from .dashboard import GrafanaDashboard, GrafanaDashboardArgs
from .image import ServerImage, ServerImageArgs
from .ingress import Ingress, IngressArgs
from .metrics_adapter import PrometheusAdapterRule, PrometheusAdapterRuleArgs
from .migration import SchemaMigration, SchemaMigrationArgs
from .network import DNS_PRESETS, NetworkPeerArgs
from .observability import ALERTS, Observability, ObservabilityArgs
from .platform import LangGraphPlatform, LangGraphPlatformArgs
from .postgres import PostgresCheckpointStore, PostgresCheckpointStoreArgs
from .retention import CheckpointRetention, CheckpointRetentionArgs
from .service import LangGraphService, LangGraphServiceArgs

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
    "DNS_PRESETS",
    "SERVER_DIR",
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
    "NetworkPeerArgs",
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
