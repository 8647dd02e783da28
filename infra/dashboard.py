"""GrafanaDashboard: the server's dashboard as a ConfigMap that Grafana's dashboard sidecar loads.

The dashboard JSON is built here from `app.contract.Metrics`, so its queries cannot drift from the names the
server exports (tests/infra/test_dashboard.py parses every query and checks each metric against the server).
"""

import json
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import Metrics
from .labels import metrics_job, standard_labels

DASHBOARD_UID_PREFIX = "langgraph-"
FOLDER_ANNOTATION = "grafana_folder"
"""The annotation kube-prometheus-stack's sidecar reads the folder from (`sidecar.dashboards.folderAnnotation`)."""
DEFAULT_LABEL = "grafana_dashboard"
RATE_WINDOW = "5m"


def _panel(title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int, kind: str = "timeseries") -> dict:
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": 12, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard_panels(job: str) -> list[dict[str, Any]]:
    """The panels, each query selecting the server's series by their Prometheus `job`."""
    sel = f'job="{job}"'
    w = RATE_WINDOW

    def quantile(q: float, histogram: str, by: str = "le") -> str:
        return f"histogram_quantile({q}, sum by ({by}) (rate({histogram}_bucket{{{sel}}}[{w}])))"

    rows = [
        (
            "Request rate by route",
            "reqps",
            [(f"sum by (route) (rate({Metrics.HTTP_REQUESTS}{{{sel}}}[{w}]))", "{{route}}")],
        ),
        (
            "5xx ratio",
            "percentunit",
            [
                (
                    f'sum(rate({Metrics.HTTP_REQUESTS}{{{sel},status=~"5.."}}[{w}])) '
                    f"/ clamp_min(sum(rate({Metrics.HTTP_REQUESTS}{{{sel}}}[{w}])), 1e-9)",
                    "5xx",
                )
            ],
        ),
        (
            "Request latency",
            "s",
            [(quantile(q, Metrics.HTTP_DURATION), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)],
        ),
        (
            "Runs by graph and outcome",
            "ops",
            [(f"sum by (graph, outcome) (rate({Metrics.RUNS}{{{sel}}}[{w}]))", "{{graph}} {{outcome}}")],
        ),
        (
            "Runs in flight",
            "short",
            [
                (f"sum({Metrics.RUNS_IN_FLIGHT}{{{sel}}})", "total"),
                (f"avg({Metrics.RUNS_IN_FLIGHT}{{{sel}}})", "per pod (the HPA's target)"),
            ],
        ),
        (
            "Run duration p95 by graph",
            "s",
            [(quantile(0.95, Metrics.RUN_DURATION, "graph, le"), "{{graph}}")],
        ),
        (
            "Database pool saturation",
            "percentunit",
            [
                (
                    f"sum({Metrics.POOL_SIZE}{{{sel}}} - {Metrics.POOL_AVAILABLE}{{{sel}}}) "
                    f"/ clamp_min(sum({Metrics.POOL_MAX_SIZE}{{{sel}}}), 1)",
                    "connections in use / maximum",
                ),
                (f"sum({Metrics.POOL_WAITING}{{{sel}}})", "requests waiting"),
            ],
        ),
        ("Checkpoint write p95", "s", [(quantile(0.95, Metrics.CHECKPOINT_WRITE_DURATION), "p95")]),
        ("Checkpoint database size", "bytes", [(f"max({Metrics.CHECKPOINT_DB_SIZE}{{{sel}}})", "size")]),
        ("Oldest thread age", "s", [(f"max({Metrics.OLDEST_THREAD_AGE}{{{sel}}})", "oldest thread")]),
    ]
    return [
        {"id": index + 1, **_panel(title, unit, targets, x=12 * (index % 2), y=8 * (index // 2))}
        for index, (title, unit, targets) in enumerate(rows)
    ]


def dashboard_json(service_instance: str, title: str = "LangGraph server") -> dict[str, Any]:
    """The Grafana dashboard model for the server of the LangGraphService named `service_instance`."""
    return {
        "uid": f"{DASHBOARD_UID_PREFIX}{service_instance}"[:40],
        "title": f"{title} ({service_instance})",
        "tags": ["langgraph"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": dashboard_panels(metrics_job(service_instance)),
    }


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL query of a dashboard model."""
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


class GrafanaDashboardArgs(TypedDict):
    namespace: pulumi.Input[str]
    service_instance: str
    """Name of the LangGraphService whose metrics the dashboard shows."""
    folder: NotRequired[str]
    """Grafana folder (default `LangGraph`)."""
    label: NotRequired[str]
    """The label Grafana's sidecar watches; set to "1" (default `grafana_dashboard`)."""


class GrafanaDashboard(pulumi.ComponentResource):
    """A ConfigMap holding the dashboard JSON, labelled for Grafana's sidecar."""

    config_map_name: pulumi.Output[str]

    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:GrafanaDashboard", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        instance = args["service_instance"]
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-configmap",
            metadata={
                "namespace": args["namespace"],
                "labels": {**standard_labels(name, "dashboard"), args.get("label", DEFAULT_LABEL): "1"},
                "annotations": {FOLDER_ANNOTATION: args.get("folder", "LangGraph")},
            },
            data={f"langgraph-{instance}.json": json.dumps(dashboard_json(instance), indent=2, sort_keys=True)},
            opts=child,
        )
        self.config_map_name = config_map.metadata.name
        self.register_outputs({"config_map_name": self.config_map_name})
