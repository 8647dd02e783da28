"""The prometheus-adapter rule that serves the in-flight-runs gauge through the custom metrics API.

An agent server spends its time waiting on model calls, so CPU says little about load; the HPA's `Pods` metric
`app.contract.Metrics.RUNS_IN_FLIGHT` (average per pod) does. prometheus-adapter exposes a Prometheus series
under the name in the rule's `name.as`, which must equal the name the HPA requests (`infra/service.py`):
both come from `HPA_METRIC` here.

The value served for a pod counts queued work too: the pod's own running runs plus an equal share of the
deployment's pending runs (`Metrics.RUNS_PENDING`, the same on every pod, divided by the number of pods
reporting), so the HPA's average per pod is (running + pending) / pods. Without the pending series (a server
older than the run engine) the share is 0. `PrometheusAdapterRule` renders the rule as a ConfigMap holding a
prometheus-adapter Helm values snippet (`rules.custom`) to merge into the adapter's release.
"""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import yaml

from .bundled_server import Metrics
from .labels import standard_labels

HPA_METRIC = Metrics.RUNS_IN_FLIGHT
"""The custom metric the HPA targets and the adapter exposes (same as the server's gauge)."""
VALUES_KEY = "prometheus-adapter-values.yaml"


def metrics_query(pending: str = Metrics.RUNS_PENDING) -> str:
    """The adapter's query template: per pod, its own series plus its share of the deployment's `pending` gauge."""
    per_pod = "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"
    share = f"max({pending}{{<<.LabelMatchers>>}}) / count({per_pod})"
    return f"{per_pod} + on() group_left() (({share}) or on() vector(0))"


def adapter_rule(metric: str = HPA_METRIC) -> dict[str, Any]:
    """A prometheus-adapter rule exposing the per-pod gauge `metric`, plus each pod's share of the pending runs,
    under the gauge's own name, per pod and namespace."""
    return {
        "seriesQuery": f'{metric}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{metric}$", "as": metric},
        "metricsQuery": metrics_query(),
    }


def adapter_values() -> dict[str, Any]:
    """The prometheus-adapter Helm chart values that add the rule."""
    return {"rules": {"custom": [adapter_rule()]}}


class PrometheusAdapterRuleArgs(TypedDict):
    namespace: pulumi.Input[str]


class PrometheusAdapterRule(pulumi.ComponentResource):
    """A ConfigMap with the prometheus-adapter values snippet the in-flight-runs HPA metric needs."""

    config_map_name: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusAdapterRuleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:PrometheusAdapterRule", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-configmap",
            metadata={
                "namespace": args["namespace"],
                "labels": standard_labels(name, "metrics-adapter"),
                "annotations": {
                    "langgraph-k8s.io/usage": f"merge {VALUES_KEY} into your prometheus-adapter Helm values "
                    "(see docs/operations.md)"
                },
            },
            data={VALUES_KEY: yaml.safe_dump(adapter_values(), sort_keys=False)},
            opts=child,
        )
        self.config_map_name = config_map.metadata.name
        self.register_outputs({"config_map_name": self.config_map_name})
