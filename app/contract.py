"""The contract between the server (`app/`) and the platform (`infra/`).

Both halves import these names instead of repeating strings: the port and paths
the probes and ServiceMonitor use, the environment variables the server reads,
the metric names the alerts and dashboard query, and the commands Jobs run.
This module must stay free of third-party imports so `infra/` can load it.
"""

HTTP_PORT = 8000
HTTP_PORT_NAME = "http"

API_PATH_PREFIXES = ("/assistants", "/graphs", "/runs", "/threads")
"""The only paths the Ingress routes from outside; probes, metrics and the API docs stay in the cluster."""

# How long the server keeps an idle keep-alive connection open. Above the idle timeouts of the proxies in
# front of it (Envoy 1 h, GCP load balancers 600 s, AWS ALB 60 s), so the proxy, never the server, closes an
# idle connection first; otherwise a request the proxy sends on a connection the server is closing gets a 502.
HTTP_IDLE_TIMEOUT_SECONDS = 3620

HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"

# Unprivileged numeric user and group the image runs as (restricted PSA needs numeric ids).
RUN_AS_USER = 10001
RUN_AS_GROUP = 10001

# The only writable path in the container; the root filesystem is read-only.
TMP_DIR = "/tmp"  # noqa: S108 - the container's only writable mount, not a temp-file path


class Env:
    """Environment variables the server reads."""

    HOST = "HOST"
    PORT = "PORT"
    DATABASE_URL = "DATABASE_URL"
    DB_POOL_MIN_SIZE = "DB_POOL_MIN_SIZE"
    DB_POOL_MAX_SIZE = "DB_POOL_MAX_SIZE"
    DB_POOL_TIMEOUT_SECONDS = "DB_POOL_TIMEOUT_SECONDS"
    DB_PREPARED_STATEMENTS = "DB_PREPARED_STATEMENTS"
    DB_POOL_CHECK_CONNECTIONS = "DB_POOL_CHECK_CONNECTIONS"
    MIGRATE_ON_STARTUP = "MIGRATE_ON_STARTUP"
    DATA_DIR = "DATA_DIR"
    LANGGRAPH_CONFIG = "LANGGRAPH_CONFIG"
    LOG_LEVEL = "LOG_LEVEL"
    CORS_ORIGINS = "CORS_ORIGINS"
    API_KEYS = "API_KEYS"
    MAX_RUN_SECONDS = "MAX_RUN_SECONDS"
    DRAIN_TIMEOUT_SECONDS = "DRAIN_TIMEOUT_SECONDS"
    MAX_BODY_BYTES = "MAX_BODY_BYTES"
    SSE_HEARTBEAT_SECONDS = "SSE_HEARTBEAT_SECONDS"
    RUN_LEASE_SECONDS = "RUN_LEASE_SECONDS"  # a run whose worker stops renewing it this long is resumed elsewhere
    RUN_MAX_ATTEMPTS = "RUN_MAX_ATTEMPTS"  # attempts (first + resumptions after lost workers) before `error`
    WORKER_CONCURRENCY = "WORKER_CONCURRENCY"  # background runs one pod's worker executes at once
    SSE_SEND_TIMEOUT_SECONDS = "SSE_SEND_TIMEOUT_SECONDS"
    HTTP_IDLE_TIMEOUT_SECONDS = "HTTP_IDLE_TIMEOUT_SECONDS"
    HTTP_HEADER_TIMEOUT_SECONDS = "HTTP_HEADER_TIMEOUT_SECONDS"
    HTTP_BODY_TIMEOUT_SECONDS = "HTTP_BODY_TIMEOUT_SECONDS"
    MAX_HEADER_BYTES = "MAX_HEADER_BYTES"
    MAX_HEADER_COUNT = "MAX_HEADER_COUNT"
    MAX_REQUEST_LINE_BYTES = "MAX_REQUEST_LINE_BYTES"
    # Read by the prune command (`PRUNE_COMMAND`), not by the server.
    RETENTION_DAYS = "RETENTION_DAYS"
    RETENTION_INTERRUPTED_DAYS = "RETENTION_INTERRUPTED_DAYS"
    PRUNE_BATCH_SIZE = "PRUNE_BATCH_SIZE"
    # Read by the migrate command: the passwords of the least-privilege roles it creates (`DATABASE_ROLES`).
    DB_SERVER_PASSWORD = "DB_SERVER_PASSWORD"  # noqa: S105 - an env var name
    DB_PRUNE_PASSWORD = "DB_PRUNE_PASSWORD"  # noqa: S105 - an env var name
    DB_BACKUP_PASSWORD = "DB_BACKUP_PASSWORD"  # noqa: S105 - an env var name


class Metrics:
    """Prometheus metric names the server exports and the alerts/dashboard query."""

    HTTP_REQUESTS = "langgraph_http_requests_total"  # labels: method, route, status
    HTTP_DURATION = "langgraph_http_request_duration_seconds"  # histogram; labels: method, route
    RUNS = "langgraph_runs_total"  # labels: graph, outcome (one of RUN_OUTCOMES)
    RUN_DURATION = "langgraph_run_duration_seconds"  # histogram; labels: graph
    RUNS_IN_FLIGHT = "langgraph_runs_in_flight"  # gauge per pod, no labels (HPA pods metric)
    CHECKPOINT_WRITE_DURATION = "langgraph_checkpoint_write_duration_seconds"  # histogram
    POOL_SIZE = "langgraph_db_pool_size"  # gauge: connections open
    POOL_AVAILABLE = "langgraph_db_pool_available"  # gauge: idle connections
    POOL_WAITING = "langgraph_db_pool_requests_waiting"  # gauge: clients queued for a connection
    POOL_MAX_SIZE = "langgraph_db_pool_max_size"  # gauge: configured maximum
    CHECKPOINT_DB_SIZE = "langgraph_checkpoint_db_size_bytes"  # gauge
    OLDEST_THREAD_AGE = "langgraph_oldest_thread_age_seconds"  # gauge: age of oldest thread's last checkpoint
    RUNS_PENDING = "langgraph_runs_pending"  # gauge: runs waiting for a worker, whole deployment (same on every pod)
    RUN_QUEUE_WAIT_DURATION = "langgraph_run_queue_wait_seconds"  # histogram: creation to a worker taking the run
    RUN_LEASE_EXPIRIES = "langgraph_run_lease_expiries_total"  # counter: runs whose worker was lost
    RUN_RETRIES = "langgraph_run_retries_total"  # counter: runs resumed from their checkpoint by another worker
    CRON_FIRES = "langgraph_cron_fires_total"  # counter; labels: outcome (run_created, failed, thread_deleted)


# Defaults both halves need, each in this one place: the server's settings and the stack config use them.
DEFAULT_MAX_RUN_SECONDS = 600
DEFAULT_DB_POOL_MAX_SIZE = 10
DEFAULT_PRUNE_BATCH_SIZE = 500

RUN_OUTCOMES = ("success", "error", "interrupted", "cancelled", "timeout")
"""`timeout`: cut off at MAX_RUN_SECONDS; `cancelled`: the client went away or the task was cancelled."""

RUN_ROUTE_SUFFIXES = ("/invoke", "/resume", "/stream", "/wait")
"""Routes ending so hold the request open for a whole graph run; request-latency alerts leave them out."""

DATABASE_ROLES = {
    "langgraph_server": Env.DB_SERVER_PASSWORD,
    "langgraph_prune": Env.DB_PRUNE_PASSWORD,
    "langgraph_backup": Env.DB_BACKUP_PASSWORD,
}
"""Least-privilege login roles the migration creates (role to the env var with its password): the server reads and
writes rows, the prune job reads and deletes, the backup reads. Only the migration owns the schema."""
SERVER_ROLE, PRUNE_ROLE, BACKUP_ROLE = DATABASE_ROLES

MIGRATE_COMMAND = ["python", "-m", "app.migrate"]
PRUNE_COMMAND = ["python", "-m", "app.prune"]
