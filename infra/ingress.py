"""Ingress: route outside traffic to the server by Gateway API (recommended), an Ingress, or not at all."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .config import Server, default
from .labels import standard_labels

STREAM_MARGIN_SECONDS = 60
"""Extra time beyond the longest run before a proxy may cut a streaming (SSE) response."""


def _sse_annotations(ingress_class: str, timeout_seconds: int) -> dict[str, str]:
    """Annotations that keep SSE streams unbuffered and open, for controllers known to read them."""
    known = {
        "nginx": {
            "nginx.ingress.kubernetes.io/proxy-buffering": "off",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": str(timeout_seconds),
            "nginx.ingress.kubernetes.io/proxy-send-timeout": str(timeout_seconds),
        },
        "haproxy": {"haproxy.org/timeout-server": f"{timeout_seconds}s"},
    }
    return known.get(ingress_class, {})


class GatewayRefArgs(TypedDict):
    name: str
    namespace: str
    section_name: NotRequired[str]


class IngressArgs(TypedDict):
    namespace: pulumi.Input[str]
    mode: str
    """`gateway` (HTTPRoute on an existing Gateway), `ingress` (networking.k8s.io/v1 Ingress) or `none`."""
    service_name: pulumi.Input[str]
    service_port: int
    host: NotRequired[str]
    gateway: NotRequired[GatewayRefArgs]
    ingress_class_name: NotRequired[str]
    tls_issuer: NotRequired[str]
    """cert-manager ClusterIssuer for the Ingress's certificate (ingress mode)."""
    max_run_seconds: NotRequired[int]
    """Longest run; streams stay open at least this long."""


class Ingress(pulumi.ComponentResource):
    """Outside access to the server's API paths (`contract.API_PATH_PREFIXES`), with timeouts for long SSE streams.

    Probes, `/metrics` and the API docs are not routed: in-cluster scrapers reach them through the Service.
    """

    url: pulumi.Output[str]
    """Public URL, empty in `none` mode."""

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:Ingress", name, None, opts)
        mode = args["mode"]
        if mode not in ("gateway", "ingress", "none"):
            raise ValueError(f"Ingress mode must be 'gateway', 'ingress' or 'none' (got {mode!r})")
        namespace = args["namespace"]
        labels = standard_labels(name, "ingress")
        host = args.get("host", "")
        timeout = args.get("max_run_seconds", default(Server, "max_run_seconds")) + STREAM_MARGIN_SECONDS
        backend = {"name": args["service_name"], "port": args["service_port"]}
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        if mode != "none" and not host:
            raise ValueError(f"Ingress mode {mode!r} needs a host")
        if mode == "gateway":
            gateway = args.get("gateway")
            if not gateway:
                raise ValueError("Ingress mode 'gateway' needs gateway {name, namespace}")
            parent_ref = {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": gateway["name"],
                "namespace": gateway["namespace"],
            }
            if gateway.get("section_name"):
                parent_ref["sectionName"] = gateway["section_name"]
            k8s.apiextensions.CustomResource(
                f"{name}-route",
                api_version="gateway.networking.k8s.io/v1",
                kind="HTTPRoute",
                metadata={"namespace": namespace, "labels": labels},
                spec={
                    "parentRefs": [parent_ref],
                    "hostnames": [host],
                    "rules": [
                        {
                            "matches": [
                                {"path": {"type": "PathPrefix", "value": prefix}}
                                for prefix in contract.API_PATH_PREFIXES
                            ],
                            "backendRefs": [backend],
                            "timeouts": {"request": f"{timeout}s", "backendRequest": f"{timeout}s"},
                        }
                    ],
                },
                opts=child,
            )
        elif mode == "ingress":
            ingress_class = args.get("ingress_class_name", "")
            annotations = _sse_annotations(ingress_class, timeout)
            tls = []
            if args.get("tls_issuer"):
                annotations["cert-manager.io/cluster-issuer"] = args["tls_issuer"]
                tls = [{"hosts": [host], "secretName": f"{name}-tls"}]
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata={"namespace": namespace, "labels": labels, "annotations": annotations},
                spec={
                    "ingressClassName": ingress_class,
                    "tls": tls,
                    "rules": [
                        {
                            "host": host,
                            "http": {
                                "paths": [
                                    {
                                        "path": prefix,
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {
                                                "name": args["service_name"],
                                                "port": {"number": args["service_port"]},
                                            }
                                        },
                                    }
                                    for prefix in contract.API_PATH_PREFIXES
                                ]
                            },
                        }
                    ],
                },
                opts=child,
            )
        secure = mode == "gateway" or bool(args.get("tls_issuer"))
        self.url = pulumi.Output.from_input(f"{'https' if secure else 'http'}://{host}" if mode != "none" else "")
        self.register_outputs({"url": self.url})
