"""A second Pulumi project reusing the langgraph-k8s components for its own graph (`agent/`).

It composes the parts itself instead of using `LangGraphPlatform`: its own namespace and default-deny policy,
the bundled server image with this project's graphs layered on top, a checkpoint store, the schema
migration, the server, monitoring and a Gateway route.
"""

import pulumi
import pulumi_kubernetes as k8s
from langgraph_k8s.app import contract
from langgraph_k8s.infra import (
    SERVER_DIR,
    Ingress,
    LangGraphService,
    Observability,
    PostgresCheckpointStore,
    SchemaMigration,
    ServerImage,
)

AGENT_DIR = "agent"
"""This project's graphs, `langgraph.json` and the Dockerfile that layers them on the server image."""

config = pulumi.Config()
repository = config.require("imageRepository")
push = config.get_bool("pushImages")
push = True if push is None else push

namespace = k8s.core.v1.Namespace(
    "agent-namespace",
    metadata={
        "name": config.get("namespace") or "support-agent",
        "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    },
)
ns = namespace.metadata.name
k8s.networking.v1.NetworkPolicy(
    "agent-default-deny",
    metadata={"namespace": ns},
    spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
)

server_image = ServerImage(
    "server-image",
    {
        "repository": f"{repository}-server",
        "context": str(SERVER_DIR),
        "dockerfile": str(SERVER_DIR / "Dockerfile"),
        "push": push,
    },
)
agent_image = ServerImage(
    "agent-image",
    {
        "repository": repository,
        "context": AGENT_DIR,
        "dockerfile": f"{AGENT_DIR}/Dockerfile",
        "build_args": {"SERVER_IMAGE": server_image.image_ref},
        "push": push,
    },
).image_ref

store = PostgresCheckpointStore("agent-db", {"namespace": ns, "client_label_value": "support-agent"})
migration = SchemaMigration(
    "agent-migrate",
    {
        "namespace": ns,
        "image": agent_image,
        "dsn_secret_name": store.dsn_secret_name,
        "roles_secret_name": store.roles_secret_name,
        "roles_checksum": store.roles_checksum,
        "pod_labels": store.client_labels,
    },
    pulumi.ResourceOptions(depends_on=[store]),
)
gateway_namespace = config.require("gatewayNamespace")
service = LangGraphService(
    "agent",
    {
        "namespace": ns,
        "image": agent_image,
        "database_url": store.server_dsn,
        "pod_labels": store.client_labels,
        "ingress_from": [{"namespace": gateway_namespace}],
        "autoscaling": {"min_replicas": 2, "max_replicas": 6},
        "max_run_seconds": 300,
    },
    pulumi.ResourceOptions(depends_on=[migration]),
)
Observability("agent-observability", {"namespace": ns, "service_instance": "agent"})
route = Ingress(
    "agent-route",
    {
        "namespace": ns,
        "mode": "gateway",
        "host": config.require("hostname"),
        "gateway": {"name": config.require("gatewayName"), "namespace": gateway_namespace},
        "service_name": service.service_name,
        "service_port": contract.HTTP_PORT,
        "max_run_seconds": 300,
    },
)

pulumi.export("namespace", ns)
pulumi.export("url", route.url)
pulumi.export("serviceDnsName", service.dns_name)
pulumi.export("image", agent_image)
