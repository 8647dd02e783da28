"""Observability: a ServiceMonitor for the server and the PrometheusRule a LangGraph operator needs."""

from dataclasses import dataclass
from string import Template
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import Metrics, contract
from .config import Thresholds
from .labels import JOB_LABEL, metrics_job, selector_labels, standard_labels

RUNBOOK_DOCUMENT = "docs/runbooks.md"
"""The runbooks in this repository, one `## Alert: <name>` section per alert; `runbookBaseUrl` is its URL."""


class ThresholdsArgs(TypedDict):
    http_5xx_ratio: NotRequired[float]
    p95_latency_seconds: NotRequired[float]
    memory_limit_ratio: NotRequired[float]
    run_error_ratio: NotRequired[float]
    run_timeout_ratio: NotRequired[float]
    checkpoint_write_p95_seconds: NotRequired[float]
    checkpoint_db_growth_6h_bytes: NotRequired[float]
    run_queue_wait_p95_seconds: NotRequired[float]
    run_lease_expiries_10m: NotRequired[int]
    oldest_thread_age_days: NotRequired[float]


DEFAULT_OLDEST_THREAD_AGE_DAYS = 90
"""The oldest-thread alert threshold when neither it nor retention is configured."""
DEFAULT_THRESHOLDS: ThresholdsArgs = {
    **Thresholds().model_dump(),  # the stack config's defaults, so both stay one
    "oldest_thread_age_days": DEFAULT_OLDEST_THREAD_AGE_DAYS,
}
RETENTION_ALERT_SLACK_DAYS = 2
"""With retention on, a thread may outlive the longest retention age by up to this before alerting."""


def oldest_thread_age_days(configured: float | None, retention_kept_days: int | None) -> float:
    """The oldest-thread alert threshold: configured, else retention's longest age plus slack, else the default."""
    if configured is not None:
        return configured
    if retention_kept_days is not None:
        return retention_kept_days + RETENTION_ALERT_SLACK_DAYS
    return DEFAULT_OLDEST_THREAD_AGE_DAYS


SHORT_REQUESTS_EXCLUDE = "|".join(
    [f".*{suffix}" for suffix in contract.RUN_ROUTE_SUFFIXES]
    + [contract.HEALTH_PATH, contract.READY_PATH, contract.METRICS_PATH]
)
"""Routes the latency alert leaves out (a PromQL regex, anchored): whole graph runs and probes."""


@dataclass(frozen=True)
class Alert:
    """One alert; `$job`, `$namespace`, `$container` and `$<threshold>` (`$<ratio>_pct`) are substituted."""

    name: str
    severity: str
    duration: str
    expr: str
    summary: str
    description: str

    @property
    def anchor(self) -> str:
        """The docs/runbooks.md section (`## Alert: <name>` renders as this anchor) that is the alert's runbook."""
        return f"alert-{self.name.lower()}"


ALERTS: tuple[Alert, ...] = (
    Alert(
        "LangGraphHigh5xxRatio",
        "critical",
        "5m",
        f'sum(rate({Metrics.HTTP_REQUESTS}{{job="$job",status=~"5.."}}[5m])) '
        f'/ clamp_min(sum(rate({Metrics.HTTP_REQUESTS}{{job="$job"}}[5m])), 1e-9) > $http_5xx_ratio',
        "LangGraph server 5xx ratio above $http_5xx_ratio_pct%",
        "More than $http_5xx_ratio_pct% of requests in $namespace failed with a 5xx status for 5 minutes.",
    ),
    Alert(
        "LangGraphSlowP95",
        "warning",
        "10m",
        f"histogram_quantile(0.95, sum by (le) (rate({Metrics.HTTP_DURATION}_bucket"
        f'{{job="$job",route!~"{SHORT_REQUESTS_EXCLUDE}"}}[5m]))) > $p95_latency_seconds',
        "LangGraph server p95 latency above ${p95_latency_seconds}s",
        "The 95th percentile latency of requests that do not run a graph (runs, streams, invoke and probes are "
        "left out) has been above ${p95_latency_seconds}s for 10 minutes.",
    ),
    Alert(
        "LangGraphMemoryNearLimit",
        "warning",
        "10m",
        'max by (pod) (container_memory_working_set_bytes{namespace="$namespace",container="$container"} '
        '/ on (namespace, pod, container) kube_pod_container_resource_limits{namespace="$namespace",'
        'container="$container",resource="memory"}) > $memory_limit_ratio',
        "LangGraph server pod near its memory limit",
        "Pod {{ $labels.pod }} uses more than $memory_limit_ratio_pct% of its memory limit; it may be OOM-killed.",
    ),
    Alert(
        "LangGraphDbPoolExhausted",
        "critical",
        "5m",
        f'(max by (pod) ({Metrics.POOL_WAITING}{{job="$job"}}) > 0) and on (pod) '
        f'(max by (pod) ({Metrics.POOL_AVAILABLE}{{job="$job"}}) == 0)',
        "LangGraph database pool exhausted",
        "Pod {{ $labels.pod }} has no idle database connection and requests are queueing for one.",
    ),
    Alert(
        "LangGraphPodCrashLooping",
        "critical",
        "10m",
        'increase(kube_pod_container_status_restarts_total{namespace="$namespace",container="$container"}[15m]) > 2',
        "LangGraph server pod restarting repeatedly",
        "Pod {{ $labels.pod }} restarted more than twice in 15 minutes.",
    ),
    Alert(
        "LangGraphServerNotReady",
        "critical",
        "5m",
        '(sum(kube_pod_container_status_ready{namespace="$namespace",container="$container"}) or vector(0)) < 1',
        "No LangGraph server pod is ready",
        "No server pod in $namespace has passed its readiness probe for 5 minutes; the API is unavailable.",
    ),
    Alert(
        "LangGraphRunErrorRatio",
        "warning",
        "10m",
        f'sum by (graph) (rate({Metrics.RUNS}{{job="$job",outcome="error"}}[10m])) '
        f'/ clamp_min(sum by (graph) (rate({Metrics.RUNS}{{job="$job"}}[10m])), 1e-9) > $run_error_ratio',
        "Runs of graph {{ $labels.graph }} failing",
        "More than $run_error_ratio_pct% of runs of graph {{ $labels.graph }} ended in error for 10 minutes.",
    ),
    Alert(
        "LangGraphRunsTimingOut",
        "warning",
        "10m",
        f'sum by (graph) (rate({Metrics.RUNS}{{job="$job",outcome="timeout"}}[10m])) '
        f'/ clamp_min(sum by (graph) (rate({Metrics.RUNS}{{job="$job"}}[10m])), 1e-9) > $run_timeout_ratio',
        "Runs of graph {{ $labels.graph }} cut off at the time limit",
        "More than $run_timeout_ratio_pct% of runs of graph {{ $labels.graph }} hit MAX_RUN_SECONDS for 10 minutes.",
    ),
    Alert(
        "LangGraphCheckpointWriteSlow",
        "warning",
        "10m",
        f"histogram_quantile(0.95, sum by (le) (rate({Metrics.CHECKPOINT_WRITE_DURATION}_bucket"
        f'{{job="$job"}}[5m]))) > $checkpoint_write_p95_seconds',
        "Checkpoint writes slow",
        "The p95 checkpoint write latency has been above ${checkpoint_write_p95_seconds}s for 10 minutes.",
    ),
    Alert(
        "LangGraphRunQueueWaitHigh",
        "warning",
        "10m",
        f"histogram_quantile(0.95, sum by (le) (rate({Metrics.RUN_QUEUE_WAIT_DURATION}_bucket"
        f'{{job="$job"}}[10m]))) > $run_queue_wait_p95_seconds',
        "Runs wait long for a worker",
        "The p95 time from a run's creation to a worker taking it has been above ${run_queue_wait_p95_seconds}s "
        "for 10 minutes in $namespace ({{ $value | humanizeDuration }}).",
    ),
    Alert(
        "LangGraphRunLeasesExpiring",
        "warning",
        "5m",
        f'sum(increase({Metrics.RUN_LEASE_EXPIRIES}{{job="$job"}}[10m])) > $run_lease_expiries_10m',
        "Runs losing their worker",
        "{{ $value | humanize }} runs in $namespace lost their worker (lease expired) in the last 10 minutes, "
        "more than $run_lease_expiries_10m; they are resumed elsewhere until RUN_MAX_ATTEMPTS, then end in error.",
    ),
    Alert(
        "LangGraphCronFiresFailing",
        "warning",
        "5m",
        f'sum(increase({Metrics.CRON_FIRES}{{job="$job",outcome="failed"}}[15m])) > 0',
        "Cron firings failing",
        "{{ $value | humanize }} cron firings in $namespace could not create their run in the last 15 minutes; "
        "each such firing is lost (its schedule moved on to the next time).",
    ),
    Alert(
        "LangGraphCheckpointDbGrowingFast",
        "warning",
        "30m",
        f'max(delta({Metrics.CHECKPOINT_DB_SIZE}{{job="$job"}}[6h])) > $checkpoint_db_growth_6h_bytes',
        "Checkpoint database growing fast",
        "The checkpoint database of $namespace grew by {{ $value | humanize1024 }}B in 6 hours "
        "(threshold ${checkpoint_db_growth_6h_bytes} bytes); check that retention prunes and what writes.",
    ),
    Alert(
        "LangGraphOldThreadsNotPruned",
        "warning",
        "1h",
        f'max({Metrics.OLDEST_THREAD_AGE}{{job="$job"}}) > $oldest_thread_age_seconds',
        "Checkpoint threads older than ${oldest_thread_age_days} days",
        "The oldest thread in $namespace was last active {{ $value | humanizeDuration }} ago, more than "
        "${oldest_thread_age_days} days; the prune CronJob is off, failing or behind.",
    ),
)
"""Every alert the platform ships; docs/runbooks.md has one `alert-<name>` runbook section per entry."""


def alert_rules(job: str, namespace: str, thresholds: ThresholdsArgs, runbook_base_url: str | None = None) -> list:
    """The PrometheusRule `rules` for a server scraped as `job` in `namespace`; runbook links when a base is given."""
    values = {**DEFAULT_THRESHOLDS, **thresholds}
    fields = {
        "job": job,
        "namespace": namespace,
        "container": "server",
        **values,
        **{f"{k}_pct": round(v * 100, 2) for k, v in values.items() if "ratio" in k},
        "checkpoint_db_growth_6h_bytes": int(values["checkpoint_db_growth_6h_bytes"]),
        "oldest_thread_age_seconds": int(values["oldest_thread_age_days"] * 86400),
        "oldest_thread_age_days": f"{values['oldest_thread_age_days']:g}",
    }
    return [
        {
            "alert": alert.name,
            "expr": Template(alert.expr).safe_substitute(fields),
            "for": alert.duration,
            "labels": {"severity": alert.severity},
            "annotations": {
                "summary": Template(alert.summary).safe_substitute(fields),
                "description": Template(alert.description).safe_substitute(fields),
                **({"runbook_url": f"{runbook_base_url}#{alert.anchor}"} if runbook_base_url else {}),
            },
        }
        for alert in ALERTS
    ]


class ObservabilityArgs(TypedDict):
    namespace: pulumi.Input[str]
    """Namespace of the server (and of the monitoring objects)."""
    service_instance: str
    """Name of the LangGraphService whose Service is scraped."""
    thresholds: NotRequired[ThresholdsArgs]
    rule_labels: NotRequired[dict[str, str]]
    """Labels your Prometheus selects rules and monitors by, e.g. `{release: kube-prometheus-stack}`."""
    runbook_base_url: NotRequired[str]
    """Absolute URL of the runbooks document; each alert's `runbook_url` is `<this>#alert-<name>`."""


class Observability(pulumi.ComponentResource):
    """Prometheus Operator objects: scrape the server and alert on what breaks agent workloads."""

    rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:Observability", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        instance = args["service_instance"]
        extra_labels = args.get("rule_labels", {})
        labels = {**standard_labels(name, "observability"), **extra_labels}
        job = metrics_job(instance)
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "jobLabel": JOB_LABEL,
                "selector": {"matchLabels": selector_labels(instance, "server")},
                "endpoints": [{"port": contract.HTTP_PORT_NAME, "path": contract.METRICS_PATH, "interval": "30s"}],
                "targetLabels": [],
            },
            opts=child,
        )
        rules = pulumi.Output.from_input(namespace).apply(
            lambda ns: alert_rules(job, ns, args.get("thresholds", {}), args.get("runbook_base_url"))
        )
        rule = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"namespace": namespace, "labels": labels},
            spec={"groups": [{"name": "langgraph", "rules": rules}]},
            opts=child,
        )
        self.rule_name = rule.metadata.apply(lambda m: m["name"])
        self.register_outputs({"rule_name": self.rule_name})
