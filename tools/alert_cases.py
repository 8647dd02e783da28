"""Promtool unit tests for every alert the platform defines: series that must fire it, series that must not.

Server metric names come from `app.contract.Metrics`. The label values the alerts select on (the scrape job,
namespace and container) are read from the rendered objects themselves (`scrape_target`), so a case only
fires when the alert selects what the ServiceMonitor actually scrapes. The gate fails when an alert in the
rendered PrometheusRule has no case here, or a case names an alert that no longer exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.contract import Metrics
from tools.validators import AlertCase, Manifest

# Metrics from the cluster's kube-state-metrics and cAdvisor (not the server's, so not in the contract).
KUBE_RESTARTS = "kube_pod_container_status_restarts_total"
KUBE_READY = "kube_pod_container_status_ready"
KUBE_LIMITS = "kube_pod_container_resource_limits"
CADVISOR_MEMORY = "container_memory_working_set_bytes"

GIB = 1024**3
DAY = 86400


@dataclass(frozen=True)
class ScrapeTarget:
    """The label values Prometheus gives the server's series: job (from the ServiceMonitor), namespace, container."""

    job: str
    namespace: str
    container: str


def scrape_target(manifests: Iterable[Manifest]) -> ScrapeTarget:
    """The job the ServiceMonitor produces for the Service it selects, and the container of the pods behind it."""
    manifests = list(manifests)
    [monitor] = [m.body for m in manifests if m.kind == "ServiceMonitor"]
    namespace = monitor["metadata"]["namespace"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    [service] = [
        m.body
        for m in manifests
        if m.kind == "Service"
        and m.body["metadata"].get("namespace") == namespace
        and selector.items() <= (m.body["metadata"].get("labels") or {}).items()
    ]
    job_label = monitor["spec"].get("jobLabel")
    job = service["metadata"]["labels"].get(job_label) if job_label else None
    [deployment] = [
        m.body
        for m in manifests
        if m.kind == "Deployment"
        and service["spec"]["selector"].items() <= m.body["spec"]["template"]["metadata"]["labels"].items()
    ]
    container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    return ScrapeTarget(job=job or service["metadata"]["name"], namespace=namespace, container=container)


def _histogram(name: str, selector: str, per_minute_by_le: dict[str, int]) -> tuple[dict[str, str], ...]:
    """Cumulative `_bucket` series growing by the given count per minute in each `le` bucket."""
    return tuple(
        {"series": f'{name}_bucket{{{selector},le="{le}"}}', "values": f"0+{count}x40"}
        for le, count in per_minute_by_le.items()
    )


def alert_cases(target: ScrapeTarget) -> dict[str, AlertCase]:
    """One case per alert, for series labelled as Prometheus would label the rendered server's."""
    job = f'job="{target.job}"'
    pod = f'namespace="{target.namespace}",container="{target.container}",pod="server-0"'
    requests = f'{Metrics.HTTP_REQUESTS}{{{job},method="POST",route="/runs"'
    runs = f'{Metrics.RUNS}{{{job},graph="review"'
    slow_buckets = {"0.1": 0, "0.5": 0, "1": 0, "2.5": 0, "5": 10, "+Inf": 10}
    fast_buckets = {"0.1": 10, "0.5": 10, "1": 10, "2.5": 10, "5": 10, "+Inf": 10}
    slow_queue_buckets = {"1": 1, "10": 1, "60": 2, "300": 10, "+Inf": 10}
    fast_queue_buckets = {"1": 9, "10": 10, "60": 10, "300": 10, "+Inf": 10}
    route = f'{job},method="POST",route="/threads/{{thread_id}}/state"'
    # Requests that last a whole graph run (streams, runs/wait, invoke) or probe the pod are not "slow requests".
    long_routes = (
        "/threads/{thread_id}/runs/stream",
        "/runs/wait",
        "/graphs/{name}/invoke",
        "/graphs/{name}/stream",
        "/graphs/{name}/resume",
        "/ready",
    )
    slow_long_routes = tuple(
        series
        for long_route in long_routes
        for series in _histogram(Metrics.HTTP_DURATION, f'{job},method="POST",route="{long_route}"', slow_buckets)
    )
    return {
        "LangGraphHigh5xxRatio": AlertCase(
            unhealthy=(
                {"series": f'{requests},status="500"}}', "values": "0+10x40"},
                {"series": f'{requests},status="200"}}', "values": "0+90x40"},
            ),
            healthy=(
                {"series": f'{requests},status="500"}}', "values": "0+1x40"},
                {"series": f'{requests},status="200"}}', "values": "0+99x40"},
            ),
        ),
        "LangGraphSlowP95": AlertCase(
            unhealthy=(*_histogram(Metrics.HTTP_DURATION, route, slow_buckets), *slow_long_routes),
            healthy=(*_histogram(Metrics.HTTP_DURATION, route, fast_buckets), *slow_long_routes),
        ),
        "LangGraphRunsTimingOut": AlertCase(
            unhealthy=(
                {"series": f'{runs},outcome="timeout"}}', "values": "0+10x40"},
                {"series": f'{runs},outcome="success"}}', "values": "0+90x40"},
            ),
            healthy=(
                {"series": f'{runs},outcome="timeout"}}', "values": "0x40"},
                {"series": f'{runs},outcome="cancelled"}}', "values": "0+50x40"},
                {"series": f'{runs},outcome="success"}}', "values": "0+50x40"},
            ),
            fired_labels={"graph": "review"},
        ),
        "LangGraphCheckpointWriteSlow": AlertCase(
            unhealthy=_histogram(Metrics.CHECKPOINT_WRITE_DURATION, job, slow_buckets),
            healthy=_histogram(Metrics.CHECKPOINT_WRITE_DURATION, job, fast_buckets),
        ),
        "LangGraphMemoryNearLimit": AlertCase(
            unhealthy=(
                {"series": f"{CADVISOR_MEMORY}{{{pod}}}", "values": f"{int(0.95 * GIB)}x40"},
                {"series": f'{KUBE_LIMITS}{{{pod},resource="memory"}}', "values": f"{GIB}x40"},
            ),
            healthy=(
                {"series": f"{CADVISOR_MEMORY}{{{pod}}}", "values": f"{GIB // 2}x40"},
                {"series": f'{KUBE_LIMITS}{{{pod},resource="memory"}}', "values": f"{GIB}x40"},
            ),
            fired_labels={"pod": "server-0"},
        ),
        "LangGraphDbPoolExhausted": AlertCase(
            unhealthy=(
                {"series": f'{Metrics.POOL_WAITING}{{{job},pod="server-0"}}', "values": "3x40"},
                {"series": f'{Metrics.POOL_AVAILABLE}{{{job},pod="server-0"}}', "values": "0x40"},
            ),
            healthy=(
                {"series": f'{Metrics.POOL_WAITING}{{{job},pod="server-0"}}', "values": "0x40"},
                {"series": f'{Metrics.POOL_AVAILABLE}{{{job},pod="server-0"}}', "values": "4x40"},
            ),
            fired_labels={"pod": "server-0"},
        ),
        "LangGraphPodCrashLooping": AlertCase(
            unhealthy=({"series": f"{KUBE_RESTARTS}{{{pod}}}", "values": "0+1x40"},),
            healthy=({"series": f"{KUBE_RESTARTS}{{{pod}}}", "values": "1x40"},),
            fired_labels={"namespace": target.namespace, "container": target.container, "pod": "server-0"},
        ),
        "LangGraphServerNotReady": AlertCase(
            unhealthy=({"series": f"{KUBE_READY}{{{pod}}}", "values": "0x40"},),
            healthy=({"series": f"{KUBE_READY}{{{pod}}}", "values": "1x40"},),
        ),
        "LangGraphRunErrorRatio": AlertCase(
            unhealthy=(
                {"series": f'{runs},outcome="error"}}', "values": "0+20x40"},
                {"series": f'{runs},outcome="success"}}', "values": "0+80x40"},
            ),
            healthy=(
                {"series": f'{runs},outcome="error"}}', "values": "0+1x40"},
                {"series": f'{runs},outcome="success"}}', "values": "0+99x40"},
            ),
            fired_labels={"graph": "review"},
        ),
        "LangGraphRunQueueWaitHigh": AlertCase(
            unhealthy=_histogram(Metrics.RUN_QUEUE_WAIT_DURATION, job, slow_queue_buckets),
            healthy=_histogram(Metrics.RUN_QUEUE_WAIT_DURATION, job, fast_queue_buckets),
        ),
        "LangGraphRunLeasesExpiring": AlertCase(
            # Two pods each detect one lost run every 2 minutes (one resumed, one past RUN_MAX_ATTEMPTS): 10 in
            # 10 minutes, summed across pods and outcomes.
            unhealthy=(
                {
                    "series": f'{Metrics.RUN_LEASE_EXPIRIES}{{{job},pod="server-0",outcome="retried"}}',
                    "values": "0+0.5x40",
                },
                {
                    "series": f'{Metrics.RUN_LEASE_EXPIRIES}{{{job},pod="server-1",outcome="exhausted"}}',
                    "values": "0+0.5x40",
                },
            ),
            # One lost run (a node went away), resumed, then none.
            healthy=(
                {
                    "series": f'{Metrics.RUN_LEASE_EXPIRIES}{{{job},pod="server-0",outcome="retried"}}',
                    "values": "0x20 1x20",
                },
                {
                    "series": f'{Metrics.RUN_LEASE_EXPIRIES}{{{job},pod="server-0",outcome="exhausted"}}',
                    "values": "0x40",
                },
                {"series": f'{Metrics.RUN_LEASE_EXPIRIES}{{{job},pod="server-1",outcome="retried"}}', "values": "0x40"},
            ),
        ),
        "LangGraphCronFiresFailing": AlertCase(
            # A cron firing every minute whose run cannot be created (its assistant was deleted).
            unhealthy=(
                {"series": f'{Metrics.CRON_FIRES}{{{job},pod="server-0",outcome="failed"}}', "values": "0+1x40"},
            ),
            # Firings that create their runs, and a thread cron whose thread retention deleted.
            healthy=(
                {"series": f'{Metrics.CRON_FIRES}{{{job},pod="server-0",outcome="run_created"}}', "values": "0+1x40"},
                {"series": f'{Metrics.CRON_FIRES}{{{job},pod="server-0",outcome="failed"}}', "values": "0x40"},
                {
                    "series": f'{Metrics.CRON_FIRES}{{{job},pod="server-1",outcome="thread_deleted"}}',
                    "values": "0x20 1x20",
                },
            ),
        ),
        "LangGraphCheckpointDbGrowingFast": AlertCase(
            unhealthy=(
                {"series": f'{Metrics.CHECKPOINT_DB_SIZE}{{{job},pod="server-0"}}', "values": f"{GIB}+{GIB}x60"},
            ),
            healthy=({"series": f'{Metrics.CHECKPOINT_DB_SIZE}{{{job},pod="server-0"}}', "values": f"{5 * GIB}x60"},),
            eval_time="3h",
            interval="5m",
        ),
        "LangGraphOldThreadsNotPruned": AlertCase(
            unhealthy=({"series": f"{Metrics.OLDEST_THREAD_AGE}{{{job}}}", "values": f"{10 * 365 * DAY}+60x150"},),
            healthy=({"series": f"{Metrics.OLDEST_THREAD_AGE}{{{job}}}", "values": f"{DAY}+60x150"},),
            eval_time="2h",
        ),
    }
