"""Reusable Pulumi components that deploy a LangGraph server to Kubernetes."""

from infra.config import StackConfig, StackConfigError, load_stack_config, parse_stack_config, read_secrets
from infra.image import ServerImage, ServerImageArgs
from infra.ingress import Ingress, IngressArgs
from infra.migration import SchemaMigration, SchemaMigrationArgs
from infra.observability import ALERTS, Observability, ObservabilityArgs
from infra.platform import LangGraphPlatform, LangGraphPlatformArgs
from infra.postgres import PostgresCheckpointStore, PostgresCheckpointStoreArgs
from infra.service import LangGraphService, LangGraphServiceArgs

COMPONENTS = (
    PostgresCheckpointStore,
    SchemaMigration,
    LangGraphService,
    Observability,
    Ingress,
    ServerImage,
    LangGraphPlatform,
)

__all__ = [
    "ALERTS",
    "COMPONENTS",
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
