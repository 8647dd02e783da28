"""Stack configuration: pydantic models for every key a stack can set, validated once at the edge.

Stack files use camelCase keys under the `langgraph-k8s:` namespace; objects are nested (e.g.
`langgraph-k8s:autoscaling: {minReplicas: 3, maxReplicas: 50}`). `load_stack_config` turns them into a
`StackConfig` or raises `StackConfigError` listing every bad key path and what is allowed, before any
resource exists. Secrets are never read from here: the external DSN and provider keys come from
`pulumi config set --secret` and are read as Pulumi secrets by `read_secrets`.
"""

import difflib
import ipaddress
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .bundled_server import contract

PROJECT = "langgraph-k8s"

POSTGRES_IMAGE = (
    "docker.io/library/postgres:17.6-bookworm@sha256:f3bd19c606e442c3d7bdfa8002e03fe260a1023351e0ea4598032022b68dd6e3"
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_RESERVED_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
ROLLOUT_MAX_SURGE_PERCENT = 25
"""Extra server pods a rolling update may start before old ones stop (the Deployment's `maxSurge`)."""


class ConfigProblem(ValueError):
    """A cross-field problem attributed to one key (`field`, empty: the model itself) of the model that raised it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class StackConfigError(Exception):
    """Invalid stack configuration; the message lists every problem, one per line."""

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        super().__init__(f"Invalid config for stack '{stack}':\n" + "\n".join(f"  - {p}" for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"must be a Kubernetes quantity such as '500m', '1', '512Mi' or '2Gi' (got {value!r})")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]

_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron(value: str) -> str:
    """A schedule Kubernetes CronJobs accept: five fields (minute hour day month weekday) or a macro."""
    text = value.strip()
    if text in _CRON_MACROS or (len(text.split()) == 5 and croniter.is_valid(text)):
        return text
    raise ValueError(
        "must be a cron schedule with five fields (minute hour day-of-month month day-of-week) such as "
        f"'17 3 * * *', or one of {', '.join(sorted(_CRON_MACROS))} (got {value!r})"
    )


Cron = Annotated[str, AfterValidator(_cron)]


class ResourceAmounts(_Model):
    cpu: Quantity
    """CPU quantity, e.g. `250m` or `1`."""
    memory: Quantity
    """Memory quantity, e.g. `512Mi` or `2Gi`."""


class Resources(_Model):
    """Container requests and limits."""

    requests: ResourceAmounts = ResourceAmounts(cpu="250m", memory="512Mi")
    """What the scheduler reserves for the container."""
    limits: ResourceAmounts = ResourceAmounts(cpu="1", memory="1Gi")
    """The most the container may use; memory over it is OOM-killed."""


class BuildImage(_Model):
    """Build the server image with Docker from a context directory."""

    context: str = "app"
    """Docker build context directory, relative to the project."""
    dockerfile: str = "app/Dockerfile"
    """Dockerfile path, relative to the project."""
    platform: str = "linux/amd64"
    """Target platform of the build."""
    push: bool = True
    """Push to `image.repository`; `false` for a local cluster that shares the Docker daemon."""


class Image(_Model):
    """The server image: built from `build` and pushed to `repository`, or a prebuilt `reference` by digest."""

    repository: str = "localhost:5000/langgraph-server"
    """Repository the built image is pushed to; the Deployment uses its digest."""
    tag: str = "latest"
    """Tag given to the build (the Deployment still pins the digest)."""
    build: BuildImage = BuildImage()
    reference: str | None = None
    """A prebuilt image by digest (`repo@sha256:...`); skips the build when set."""

    @field_validator("reference")
    @classmethod
    def _by_digest(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"@sha256:[0-9a-f]{64}$", value):
            raise ValueError(f"must pin a digest, e.g. 'registry/name@sha256:<64 hex>' (got {value!r})")
        return value


class Autoscaling(_Model):
    """HorizontalPodAutoscaler bounds and targets."""

    enabled: bool = False
    """Create an HPA (and leave `spec.replicas` to it) instead of a fixed `replicas` count."""
    min_replicas: int = Field(2, ge=1, le=1000)
    """Fewest server pods the HPA keeps."""
    max_replicas: int = Field(5, ge=1, le=1000)
    """Most server pods the HPA may run; at least `minReplicas`."""
    cpu_target_percent: int = Field(70, ge=1, le=100)
    """Average CPU utilisation (% of requests) the HPA aims for."""
    memory_target_percent: int = Field(80, ge=1, le=100)
    """Average memory utilisation (% of requests) the HPA aims for."""
    in_flight_runs_target: int | None = Field(None, ge=1, le=10000)
    """Average graph runs per pod, running plus pending, the HPA aims for (needs prometheus-adapter); unset: CPU and
    memory only."""
    scale_down_stabilization_seconds: int = Field(300, ge=0, le=3600)
    """How long the HPA waits before removing pods."""

    @model_validator(mode="after")
    def _bounds(self) -> "Autoscaling":
        if self.max_replicas < self.min_replicas:
            raise ConfigProblem(
                "maxReplicas",
                f"({self.max_replicas}) must be >= minReplicas ({self.min_replicas})",
            )
        return self


class Postgres(_Model):
    """The checkpoint store: an in-cluster StatefulSet, or an external database (DSN from secret config)."""

    mode: Literal["in-cluster", "external"] = "in-cluster"
    """`in-cluster` runs a StatefulSet; `external` uses the secret `databaseUrl`."""
    image: str = POSTGRES_IMAGE
    """Postgres image, pinned by digest; one with pgvector when the server's langgraph.json sets `store.index`
    (semantic search), e.g. pgvector/pgvector:pg17."""
    storage_size: Quantity = "5Gi"
    """Size of the data volume."""
    storage_class: str | None = None
    """StorageClass of the data volume; unset: the cluster default."""
    database: str = Field("langgraph", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """Database name."""
    user: str = Field("langgraph", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """The database owner (its password is generated), used by the migration only; in-cluster, the server, the
    prune job and backups connect as their own least-privilege roles."""
    max_connections: int = Field(100, ge=20, le=10000)
    """Connections the database accepts: set on the in-cluster server's command line; for an external database,
    what it allows. A stack whose pods could open more is refused."""
    reserved_connections: int = Field(10, ge=0, le=1000)
    """Connections the budget keeps free for administrators and monitoring."""
    protect: bool = True
    """Protect what holds data: Pulumi refuses to delete or replace the database's StatefulSet and the backup
    claim, and `destroy` leaves the namespace, the volumes and the credentials (docs/deploy.md)."""
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="250m", memory="512Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")
    )
    """Requests and limits of the Postgres container."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not re.search(r"@sha256:[0-9a-f]{64}$", value):
            raise ValueError(f"must pin a digest, e.g. 'postgres:17@sha256:<64 hex>' (got {value!r})")
        return value


class Retention(_Model):
    """Delete checkpoint threads idle too long (`python -m app.prune` as a CronJob). Absent means off."""

    days: int = Field(ge=1, le=3650)
    """Threads whose last checkpoint is older than this are deleted."""
    interrupted_days: int | None = Field(None, ge=1, le=3650)
    """Threads waiting on a human (interrupted) are kept this long instead; at least `days` (default: `days`)."""
    schedule: Cron = "17 3 * * *"
    """When the prune runs (cron, UTC)."""
    batch_size: int = Field(contract.DEFAULT_PRUNE_BATCH_SIZE, ge=1, le=10000)
    """Threads deleted per transaction, so no lock is held long."""

    @model_validator(mode="after")
    def _interrupted_not_shorter(self) -> "Retention":
        if self.interrupted_days is not None and self.interrupted_days < self.days:
            raise ConfigProblem("interruptedDays", f"({self.interrupted_days}) must be >= days ({self.days})")
        return self

    @property
    def kept_days(self) -> int:
        """The longest any thread is kept: interrupted threads' age, or `days`."""
        return max(self.days, self.interrupted_days or self.days)


class Backup(_Model):
    """Nightly `pg_dump` of the in-cluster checkpoint database to a PersistentVolumeClaim (Postgres's own image)."""

    enabled: bool = False
    """Run the backup CronJob (in-cluster Postgres only)."""
    schedule: Cron = "30 2 * * *"
    """When the dump runs (cron, UTC)."""
    keep: int = Field(7, ge=1, le=365)
    """How many dump files to keep; older ones are deleted after each successful dump."""
    storage_size: Quantity = "10Gi"
    """Size of the backup volume."""
    storage_class: str | None = None
    """StorageClass of the backup volume; unset: the cluster default."""


class Dashboard(_Model):
    """A Grafana dashboard as a ConfigMap that Grafana's sidecar picks up."""

    enabled: bool = False
    """Create the Grafana dashboard ConfigMap."""
    folder: str = Field("LangGraph", min_length=1, max_length=100)
    """Grafana folder (the sidecar's `grafana_folder` annotation)."""
    label: str = Field("grafana_dashboard", pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    """The label the sidecar watches (value "1")."""


class GatewayRef(_Model):
    """The existing Gateway an HTTPRoute attaches to."""

    name: str = Field(pattern=_DNS_LABEL.pattern)
    """Name of the Gateway."""
    namespace: str = Field(pattern=_DNS_LABEL.pattern)
    """Namespace of the Gateway."""
    section_name: str | None = None
    """Listener of the Gateway to attach to; unset: all."""


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(f"must be a CIDR such as '203.0.113.0/24' (got {value!r})") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


class NetworkPeer(_Model):
    """Pods of a namespace (optionally only those with `podLabels`), or an address range."""

    namespace: str | None = Field(None, pattern=_DNS_LABEL.pattern)
    """Namespace whose pods are admitted."""
    pod_labels: dict[str, str] = {}
    """Only the pods of `namespace` with these labels."""
    cidr: Cidr | None = None
    """An address range, e.g. a load balancer's or a VPC's."""

    @model_validator(mode="after")
    def _one_kind(self) -> "NetworkPeer":
        if (self.namespace is None) == (self.cidr is None):
            raise ConfigProblem("", ": give either namespace (with optional podLabels) or cidr, not both")
        if self.pod_labels and self.namespace is None:
            raise ConfigProblem("podLabels", ": only with namespace, not with cidr")
        return self

    def as_args(self) -> dict[str, Any]:
        """The peer as `infra.network.NetworkPeerArgs`."""
        if self.cidr is not None:
            return {"cidr": self.cidr}
        return {"namespace": self.namespace, **({"pod_labels": dict(self.pod_labels)} if self.pod_labels else {})}


class Ingress(_Model):
    """How traffic reaches the server: Gateway API (recommended), an Ingress, or not at all."""

    mode: Literal["gateway", "ingress", "none"] = "none"
    """`gateway` (an HTTPRoute, recommended), `ingress` (networking.k8s.io/v1 Ingress) or `none`."""
    host: str | None = None
    """Public host name; required unless mode is `none`."""
    tls_issuer: str | None = None
    """cert-manager ClusterIssuer for the host's certificate (ingress mode); unset: no TLS from here."""
    gateway: GatewayRef | None = None
    ingress_class_name: str | None = None
    """IngressClass to use; required in ingress mode."""
    controller_namespace: str = Field("ingress", pattern=_DNS_LABEL.pattern)
    """Namespace of the ingress controller pods, admitted by the server's NetworkPolicy (ingress mode)."""
    allow_from: list[NetworkPeer] | None = None
    """Who may reach the server's port, each `{namespace, podLabels}` or `{cidr}` (values per controller in
    docs/deploy.md); unset: the Gateway's namespace (gateway mode) or `controllerNamespace` (ingress mode)."""

    def sources(self) -> list[dict[str, Any]]:
        """The peers admitted to the server's HTTP port, as `infra.network.NetworkPeerArgs`."""
        if self.allow_from is not None:
            return [peer.as_args() for peer in self.allow_from]
        if self.mode == "gateway" and self.gateway is not None:
            return [{"namespace": self.gateway.namespace}]
        if self.mode == "ingress":
            return [{"namespace": self.controller_namespace}]
        return []

    @field_validator("host")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_NAME.match(value):
            raise ValueError(f"must be a DNS host name such as 'agents.example.com' (got {value!r})")
        return value

    @model_validator(mode="after")
    def _mode_needs(self) -> "Ingress":
        if self.mode != "none" and not self.host:
            raise ConfigProblem("host", f"is required when mode is '{self.mode}'")
        if self.mode == "gateway" and self.gateway is None:
            raise ConfigProblem("gateway", "is required when mode is 'gateway' (name and namespace of the Gateway)")
        if self.mode == "ingress" and not self.ingress_class_name:
            raise ConfigProblem("ingressClassName", "is required when mode is 'ingress'")
        return self


class Thresholds(_Model):
    """Alert thresholds."""

    http_5xx_ratio: float = Field(0.05, gt=0, lt=1, alias="http5xxRatio")
    """Alert when this share of requests fails with a 5xx."""
    p95_latency_seconds: float = Field(2.0, gt=0)
    """Alert when p95 request latency exceeds this."""
    memory_limit_ratio: float = Field(0.9, gt=0, le=1)
    """Alert when a pod uses this share of its memory limit."""
    run_error_ratio: float = Field(0.1, gt=0, lt=1)
    """Alert when this share of a graph's runs ends in error."""
    run_timeout_ratio: float = Field(0.05, gt=0, lt=1)
    """Alert when this share of a graph's runs is cut off at `server.maxRunSeconds`."""
    checkpoint_write_p95_seconds: float = Field(0.5, gt=0)
    """Alert when p95 checkpoint write latency exceeds this."""
    checkpoint_db_growth_6h_bytes: float = Field(2 * 1024**3, gt=0, alias="checkpointDbGrowth6hBytes")
    """Alert when the checkpoint database grows more than this in 6 hours."""
    run_queue_wait_p95_seconds: float = Field(60.0, gt=0)
    """Alert when p95 time from a run's creation to a worker taking it exceeds this."""
    run_lease_expiries_10m: int = Field(2, ge=0, alias="runLeaseExpiries10m")
    """Alert when more runs than this lose their worker (lease expired) in 10 minutes; 0: on every one."""
    oldest_thread_age_days: float | None = Field(None, gt=0)
    """Alert when a thread is older than this; default: retention's longest age + 2 days, or 90 without retention."""


class Observability(_Model):
    """Prometheus Operator resources (needs its CRDs in the cluster)."""

    enabled: bool = False
    """Create the ServiceMonitor and PrometheusRule (needs the Prometheus Operator CRDs)."""
    prometheus_namespace: str = Field("monitoring", pattern=_DNS_LABEL.pattern)
    """Namespace of Prometheus, admitted to the metrics port."""
    rule_labels: dict[str, str] = {}
    """Extra labels on the PrometheusRule, e.g. what your Prometheus `ruleSelector` matches."""
    thresholds: Thresholds = Thresholds()
    runbook_base_url: str | None = None
    """Absolute URL of the runbooks document; each alert links to `<this>#alert-<name>`. Required when enabled."""

    @field_validator("runbook_base_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s#]+(/[^\s#]*)?$", value):
            raise ValueError(
                "must be an absolute http(s) URL without a '#' fragment, e.g. "
                f"'https://github.com/acme/langgraph-k8s/blob/main/docs/runbooks.md' (got {value!r})"
            )
        return value

    @model_validator(mode="after")
    def _runbooks_when_enabled(self) -> "Observability":
        if self.enabled and self.runbook_base_url is None:
            raise ConfigProblem(
                "runbookBaseUrl",
                "is required when enabled: alerts link to '<runbookBaseUrl>#alert-<name>', which Alertmanager "
                "must be able to open (e.g. the URL of your copy of docs/runbooks.md)",
            )
        return self


class Server(_Model):
    """Non-secret server settings."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Server log level."""
    cors_origins: list[str] = []
    """Browser origins allowed by CORS, each `scheme://host[:port]`; `*` is refused."""
    auth: bool = True
    """Require an API key on the graph routes; one is generated and exported as the secret `apiKey`."""
    max_run_seconds: int = Field(contract.DEFAULT_MAX_RUN_SECONDS, ge=10, le=86400)
    """Longest a graph run may take; also sets the drain timeout and the pod's termination grace period."""
    db_pool_max_size: int = Field(contract.DEFAULT_DB_POOL_MAX_SIZE, ge=1, le=200)
    """Connections per server pod (`replicas x this` bounds Postgres connections)."""

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        bad = [o for o in value if not re.match(r"^https?://[^/\s*]+$", o)]
        if bad:
            raise ValueError(
                f"each origin must be an explicit 'scheme://host[:port]' without a path; '*' is refused because "
                f"the server allows credentials (got {bad})"
            )
        return value


class Dns(_Model):
    """Where pods resolve names: the cluster's DNS setup."""

    preset: Literal["kube-dns", "node-local-dns", "gke-cloud-dns"] = "kube-dns"
    """`kube-dns` (the kube-dns/CoreDNS pods), `node-local-dns` (NodeLocal DNSCache, 169.254.20.10, e.g. GKE
    Autopilot) or `gke-cloud-dns` (GKE Cloud DNS, 169.254.169.254); the last two also keep kube-dns."""
    extra_cidrs: list[Cidr] = []
    """More DNS server addresses, e.g. a custom resolver's."""

    def peers(self) -> list[dict[str, Any]]:
        """The DNS servers as `infra.network.NetworkPeerArgs`."""
        from .network import DNS_PRESETS

        return [*DNS_PRESETS[self.preset], *({"cidr": cidr} for cidr in self.extra_cidrs)]


class Egress(_Model):
    """Where the server's and jobs' pods may connect besides Postgres: DNS, and HTTPS destinations."""

    https_cidrs: list[str] = []
    """CIDRs the server may reach on 443, e.g. model providers; nothing else leaves the namespace."""
    dns: Dns = Dns()

    @field_validator("https_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"each entry must be a CIDR such as '203.0.113.0/24' (got {cidr!r})") from None
        return value


class StackConfig(_Model):
    """Everything a stack can set. Every field has a safe default."""

    namespace: str = "langgraph"
    """Namespace everything is deployed to (created, PSA `restricted`)."""
    image: Image = Image()
    replicas: int = Field(1, ge=1, le=100)
    """Server pods when autoscaling is off."""
    autoscaling: Autoscaling = Autoscaling()
    resources: Resources = Resources()
    postgres: Postgres = Postgres()
    ingress: Ingress = Ingress()
    observability: Observability = Observability()
    server: Server = Server()
    egress: Egress = Egress()
    retention: Retention | None = None
    backup: Backup = Backup()
    dashboard: Dashboard = Dashboard()
    restoring: bool = False
    """Set while restoring a backup (docs/operations.md): the server scales to zero (its autoscaler is removed) and
    the prune and backup CronJobs are suspended; remove it and `pulumi up` to resume."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.match(value) or value in _RESERVED_NAMESPACES or value.startswith("kube-"):
            raise ValueError(f"must be a DNS label and not a system namespace (got {value!r})")
        return value

    def server_pods_at_most(self) -> tuple[int, int]:
        """(most server pods configured, most that run during a rolling update)."""
        pods = self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas
        return pods, math.ceil(pods * (100 + ROLLOUT_MAX_SURGE_PERCENT) / 100)

    def job_connections(self) -> list[str]:
        """The jobs that each hold one database connection while they run."""
        return ["migration", *(["retention"] if self.retention else []), *(["backup"] if self.backup.enabled else [])]

    @model_validator(mode="after")
    def _connection_budget(self) -> "StackConfig":
        pods, surge_pods = self.server_pods_at_most()
        pool = self.server.db_pool_max_size
        jobs = self.job_connections()
        reserved = self.postgres.reserved_connections
        total = surge_pods * pool + len(jobs) + reserved
        if total > self.postgres.max_connections:
            raise ConfigProblem(
                "postgres.maxConnections",
                f"({self.postgres.max_connections}) is below what this stack can open: {total} ({surge_pods} server "
                f"pods ({pods} + {ROLLOUT_MAX_SURGE_PERCENT}% rollout surge) x server.dbPoolMaxSize {pool} = "
                f"{surge_pods * pool}, {len(jobs)} job connections ({', '.join(jobs)}), {reserved} reserved); raise "
                "postgres.maxConnections (and the database's memory), lower server.dbPoolMaxSize or the replica "
                "count, or put a connection pooler such as PgBouncer in front",
            )
        return self

    @model_validator(mode="after")
    def _backup_needs_in_cluster_postgres(self) -> "StackConfig":
        if self.backup.enabled and self.postgres.mode != "in-cluster":
            raise ConfigProblem(
                "backup.enabled",
                f"is only for postgres.mode 'in-cluster' (got '{self.postgres.mode}'); "
                "an external database is backed up by its provider",
            )
        return self

    @model_validator(mode="after")
    def _semantic_search_needs_pgvector(self) -> "StackConfig":
        """The image built here serves semantic search when its langgraph.json sets `store.index`: the in-cluster
        database must have pgvector, which the official postgres image lacks (the migration would fail)."""
        if self.image.reference or self.postgres.mode != "in-cluster" or self.postgres.image != POSTGRES_IMAGE:
            return self
        graphs = Path(self.image.build.context) / "langgraph.json"
        try:
            store = json.loads(graphs.read_text()).get("store") or {}
        except (OSError, ValueError, AttributeError):
            return self  # the build reports a missing or broken langgraph.json
        if isinstance(store, dict) and store.get("index"):
            raise ConfigProblem(
                "postgres.image",
                f"is the official postgres image, which has no pgvector, but {graphs} configures store.index "
                "(semantic search): set postgres.image to an image with pgvector, pinned by digest (e.g. "
                "pgvector/pgvector:pg17@sha256:...), or use postgres.mode 'external' with pgvector installed",
            )
        return self


def default(model: type[BaseModel], field: str) -> Any:
    """The stack config's default of `model.field`, as plain data: what a component used alone falls back to."""
    value = model.model_fields[field].get_default(call_default_factory=True)
    return value.model_dump() if isinstance(value, BaseModel) else value


TOP_LEVEL_KEYS: tuple[str, ...] = tuple(f.alias or name for name, f in StackConfig.model_fields.items())
SECRET_KEYS = {
    "databaseUrl": "DSN of an external PostgreSQL (required when postgres.mode is 'external')",
    "providerKeys": "object of model-provider env vars to values, e.g. {OPENAI_API_KEY: ...}",
}
RESERVED_PROVIDER_KEYS = frozenset(
    value for name, value in vars(contract.Env).items() if not name.startswith("_") and isinstance(value, str)
)
"""Environment variables the server sets itself; `providerKeys` may not override them."""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at `loc` (a path of camelCase keys from the top of the stack config)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        fields = {f.alias or name: f for name, f in model.model_fields.items()} if model else {}
        field = fields.get(str(part))
        if field is None:
            return None
        model = next(
            (
                t
                for t in (field.annotation, *typing.get_args(field.annotation))
                if isinstance(t, type) and issubclass(t, BaseModel)
            ),
            None,
        )
    return model


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """`<path>: unknown key`, with the closest valid key as a suggestion, or the valid keys when none is close."""
    model = _model_at(loc[:-1])
    known = [f.alias or name for name, f in model.model_fields.items()] if model else []
    message = f"{PROJECT}:{_path(loc)}: unknown key"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean '{close[0]}'?"
    return f"{message} (known keys: {', '.join(known)})" if known else message


def provider_key_problems(value: Any) -> list[str]:
    """What is wrong with a `providerKeys` value: it must map env var names the server does not own to strings."""
    key = f"{PROJECT}:providerKeys"
    if not isinstance(value, dict):
        return [f"{key}: must be an object of env var names to values, e.g. {{OPENAI_API_KEY: ...}}"]
    problems = []
    for name, item in value.items():
        if not _ENV_NAME.match(str(name)):
            problems.append(f"{key}.{name}: must be an environment variable name (A-Z, 0-9, _)")
        elif name in RESERVED_PROVIDER_KEYS:
            problems.append(f"{key}.{name}: is reserved for the server's own setting; use another name")
        if isinstance(item, (dict, list)) or item is None:
            problems.append(f"{key}.{name}: must be a string (got {type(item).__name__})")
    return problems


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigProblem):
        path = _path((*loc, cause.field) if cause.field else loc)
        return f"{PROJECT}:{path}{'' if cause.message.startswith(':') else ' '}{cause.message}"
    kind = error["type"]
    given = error.get("input")
    if kind == "literal_error":
        expected = error["ctx"]["expected"].replace(" or ", ", ")
        message = f"must be one of {expected} (got {given!r})"
    elif kind == "extra_forbidden":
        return _unknown_key(loc)
    elif kind == "missing":
        message = "is required"
    elif kind == "value_error":
        message = str(cause) if cause else error["msg"]
    else:
        message = f"{error['msg'][0].lower()}{error['msg'][1:]} (got {given!r})"
    return f"{PROJECT}:{_path(loc)}: {message}"


def parse_stack_config(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config values (top-level key to decoded value); raise `StackConfigError` listing all problems."""
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise StackConfigError(stack, [_describe(e) for e in exc.errors()]) from None


def _configured_keys() -> set[str]:
    """Every key this stack sets under the project's namespace, without the `<project>:` prefix."""
    full_keys = {*pulumi.runtime.config.CONFIG.get(), *pulumi.runtime.get_config_env()}
    return {key.split(":", 1)[1] for key in full_keys if key.startswith(f"{PROJECT}:")}


def _decode(key: str, text: str, problems: list[str]) -> Any:
    try:
        return json.loads(text) if text[:1] in "{[" else text
    except json.JSONDecodeError as exc:
        problems.append(f"{PROJECT}:{key}: is not valid JSON ({exc.msg})")
        return None


def load_stack_config(config: pulumi.Config | None = None) -> StackConfig:
    """Read and validate this stack's config (secret `providerKeys` names too) from the Pulumi runtime.

    Every key under the project's namespace must be known: a typo is an error naming the closest key.
    """
    config = config or pulumi.Config(PROJECT)
    stack = pulumi.get_stack()
    raw: dict[str, Any] = {}
    problems = []
    for key in sorted(_configured_keys() - set(SECRET_KEYS)):
        text = config.get(key) if key in TOP_LEVEL_KEYS else pulumi.runtime.get_config(f"{PROJECT}:{key}")
        if text is not None:
            raw[key] = _decode(key, text, problems)
    provider_keys = pulumi.runtime.get_config(f"{PROJECT}:providerKeys")
    if provider_keys is not None:
        problems += provider_key_problems(_decode("providerKeys", provider_keys, problems))
    try:
        stack_config = parse_stack_config(stack, raw)
    except StackConfigError as error:
        raise StackConfigError(stack, [*problems, *error.problems]) from None
    if problems:
        raise StackConfigError(stack, problems)
    if stack_config.postgres.mode == "external" and config.get_secret("databaseUrl") is None:
        raise StackConfigError(
            stack,
            [
                f"{PROJECT}:databaseUrl: is required when postgres.mode is 'external' "
                f"(set it with `pulumi config set --secret databaseUrl <dsn>`)"
            ],
        )
    return stack_config


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as Pulumi secrets."""

    database_url: pulumi.Output[str] | None
    provider_keys: pulumi.Output[dict[str, str]] | None


def read_secrets(config: pulumi.Config | None = None) -> StackSecrets:
    """The secret values this stack was given with `pulumi config set --secret`."""
    config = config or pulumi.Config(PROJECT)
    provider_keys = config.get_secret_object("providerKeys")
    checked: Callable[[Any], dict[str, str]] = _provider_keys
    return StackSecrets(
        database_url=config.get_secret("databaseUrl"),
        provider_keys=pulumi.Output.secret(provider_keys).apply(checked) if provider_keys is not None else None,
    )


def _provider_keys(value: Any) -> dict[str, str]:
    problems = provider_key_problems(value)
    if problems:
        raise ValueError("; ".join(problems))
    return {str(k): str(v) for k, v in value.items()}
