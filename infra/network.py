"""NetworkPolicy pieces every component shares: peers, where DNS is served, and the database-client policy."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

POSTGRES_PORT = 5432
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NODE_LOCAL_DNS_CIDR = "169.254.20.10/32"
"""NodeLocal DNSCache's link-local address (on by default in GKE Autopilot and recent GKE Standard)."""
GKE_CLOUD_DNS_CIDR = "169.254.169.254/32"
"""GKE's metadata server, which answers DNS when the cluster uses Cloud DNS."""


class NetworkPeerArgs(TypedDict):
    """Pods (a namespace, optionally narrowed by pod labels) or an address range (a CIDR)."""

    namespace: NotRequired[str]
    pod_labels: NotRequired[dict[str, str]]
    cidr: NotRequired[str]


KUBE_DNS: NetworkPeerArgs = {"namespace": "kube-system", "pod_labels": {"k8s-app": "kube-dns"}}
DNS_PRESETS: dict[str, list[NetworkPeerArgs]] = {
    "kube-dns": [KUBE_DNS],
    "node-local-dns": [KUBE_DNS, {"cidr": NODE_LOCAL_DNS_CIDR}],
    "gke-cloud-dns": [KUBE_DNS, {"cidr": GKE_CLOUD_DNS_CIDR}],
}
"""Where pods resolve names, per cluster DNS setup; kube-dns stays reachable for clusters that fall back to it."""


def network_peer(peer: NetworkPeerArgs) -> dict:
    """A NetworkPolicy peer: `namespaceSelector` (+ `podSelector`) for pods, `ipBlock` for a CIDR."""
    if ("namespace" in peer) == ("cidr" in peer):
        raise ValueError(f"a network peer needs either namespace or cidr (got {dict(peer)})")
    if "cidr" in peer:
        return {"ipBlock": {"cidr": peer["cidr"]}}
    selector: dict = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: peer["namespace"]}}}
    if peer.get("pod_labels"):
        selector["podSelector"] = {"matchLabels": dict(peer["pod_labels"])}
    return selector


def dns_egress(peers: list[NetworkPeerArgs] | None = None) -> dict:
    """An egress rule to the DNS servers on 53 (UDP and TCP); default: the kube-dns pods."""
    return {
        "to": [network_peer(p) for p in peers or DNS_PRESETS["kube-dns"]],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def database_egress(cidrs: list[str] | None = None) -> dict:
    """An egress rule to Postgres: at `cidrs` outside the cluster, else any pod of the namespace (the store's own
    policy admits only labelled clients)."""
    peers = [{"ipBlock": {"cidr": c}} for c in cidrs or []] or [{"podSelector": {}}]
    return {"to": peers, "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}


def database_client_policy(
    opts: pulumi.ResourceOptions,
    name: str,
    namespace: pulumi.Input[str],
    labels: dict,
    selector: dict,
    egress_cidrs: list[str] | None = None,
    dns_peers: list[NetworkPeerArgs] | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy letting a job's pods resolve names and reach Postgres on 5432, and nothing else."""
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol",
        metadata={"namespace": namespace, "labels": labels},
        spec={
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [dns_egress(dns_peers), database_egress(egress_cidrs)],
        },
        opts=opts,
    )
