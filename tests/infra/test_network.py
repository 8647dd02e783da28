"""NetworkPolicies that work on real clusters: DNS where the cluster serves it, ingress from where traffic comes."""

import pytest

from infra.config import StackConfigError
from infra.mocks import run_stack
from tests.tokens import Token

NODE_LOCAL_DNS = "169.254.20.10/32"
GKE_METADATA_DNS = "169.254.169.254/32"


def policies(run) -> dict:
    return {r.name: r.inputs["spec"] for r in run.of_type(Token.NETWORK_POLICY)}


def dns_peers(spec) -> list[dict]:
    return [peer for rule in spec["egress"] if {"protocol": "UDP", "port": 53} in rule["ports"] for peer in rule["to"]]


def test_dns_goes_to_kube_dns_by_default():
    run = run_stack("dev")
    resolving = {name: spec for name, spec in policies(run).items() if spec.get("egress")}
    assert set(resolving) >= {"langgraph-server-netpol", "langgraph-migrate-netpol", "langgraph-retention-netpol"}
    for name, spec in resolving.items():
        assert dns_peers(spec) == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ], name


@pytest.mark.parametrize(("preset", "cidr"), [("node-local-dns", NODE_LOCAL_DNS), ("gke-cloud-dns", GKE_METADATA_DNS)])
def test_dns_presets_admit_addresses_pod_selectors_cannot_match(preset, cidr):
    run = run_stack("prod", overrides={"egress": {"httpsCidrs": ["0.0.0.0/0"], "dns": {"preset": preset}}})
    resolving = {name: spec for name, spec in policies(run).items() if spec.get("egress")}
    assert len(resolving) == 4  # server, migration, retention, backup
    for name, spec in resolving.items():
        assert {"ipBlock": {"cidr": cidr}} in dns_peers(spec), name
        assert any("podSelector" in peer for peer in dns_peers(spec)), f"{name}: kube-dns still reachable"


def test_extra_dns_servers_are_added_to_the_preset():
    run = run_stack("dev", overrides={"egress": {"dns": {"extraCidrs": ["10.0.0.10/32"]}}})
    assert {"ipBlock": {"cidr": "10.0.0.10/32"}} in dns_peers(policies(run)["langgraph-server-netpol"])


def server_sources(run) -> list[list[dict]]:
    return [rule["from"] for rule in policies(run)["langgraph-server-netpol"]["ingress"]]


def test_ingress_sources_default_to_the_gateway_namespace():
    [gateway, prometheus] = server_sources(run_stack("prod"))
    assert gateway == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}}]
    assert prometheus == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_ingress_sources_are_configurable_as_selectors_and_cidrs():
    envoy = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy"}
    ingress = {
        "mode": "gateway",
        "host": "agents.example.com",
        "gateway": {"name": "eg", "namespace": "default-gw"},
        "allowFrom": [
            {"namespace": "envoy-gateway-system", "podLabels": envoy},
            {"cidr": "35.191.0.0/16"},
            {"cidr": "130.211.0.0/22"},
        ],
    }
    [sources, prometheus] = server_sources(run_stack("prod", overrides={"ingress": ingress}))
    assert sources == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}},
            "podSelector": {"matchLabels": envoy},
        },
        {"ipBlock": {"cidr": "35.191.0.0/16"}},
        {"ipBlock": {"cidr": "130.211.0.0/22"}},
    ]
    assert prometheus[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring"


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        ({"namespace": "a", "cidr": "10.0.0.0/8"}, "ingress.allowFrom.0: give either namespace"),
        ({}, "ingress.allowFrom.0: give either namespace"),
        ({"cidr": "10.0.0.0/33"}, "ingress.allowFrom.0.cidr: must be a CIDR"),
        ({"cidr": "10.0.0.0/8", "podLabels": {"a": "b"}}, "ingress.allowFrom.0.podLabels: only with namespace"),
    ],
)
def test_bad_ingress_sources_are_refused(peer, message):
    with pytest.raises(StackConfigError, match=message.replace(".", r"\.")):
        run_stack("dev", overrides={"ingress": {"mode": "none", "allowFrom": [peer]}})


def test_unknown_dns_preset_is_refused():
    with pytest.raises(StackConfigError, match=r"egress\.dns\.preset: must be one of 'kube-dns', 'node-local-dns'"):
        run_stack("dev", overrides={"egress": {"dns": {"preset": "coredns"}}})
