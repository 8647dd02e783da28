"""The labels every object here carries, and the ones selectors and Prometheus read."""

PART_OF = "langgraph-k8s"
DB_CLIENT_LABEL = "langgraph-k8s.io/postgres-client"


def selector_labels(instance: str, component: str) -> dict[str, str]:
    """The immutable labels a workload's selector matches on."""
    return {
        "app.kubernetes.io/name": "langgraph",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


def standard_labels(instance: str, component: str) -> dict[str, str]:
    """Selector labels plus the recommended descriptive ones."""
    return {
        **selector_labels(instance, component),
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


JOB_LABEL = "langgraph-k8s.io/job"
"""Service label whose value Prometheus uses as the `job` of the server's metrics."""


def metrics_job(instance: str) -> str:
    """The Prometheus `job` of a LangGraphService's metrics: the service's own name."""
    return instance
