"""LangGraphService: the server Deployment and everything it needs to run safely and scale."""

import hashlib
import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .config import ROLLOUT_MAX_SURGE_PERCENT, Server, StackConfig, default
from .image import env_secret_checkov_skips, pull_policy
from .labels import JOB_LABEL, metrics_job, selector_labels, standard_labels
from .network import NetworkPeerArgs, database_egress, dns_egress, network_peer
from .pods import container_security_context, pod_security_context, resources_spec
from .postgres import ResourcesArgs

PRESTOP_SECONDS = 10
"""How long a pod keeps serving after removal from endpoints, so load balancers stop sending to it."""


class AutoscalingArgs(TypedDict):
    min_replicas: int
    max_replicas: int
    cpu_target_percent: NotRequired[int]
    memory_target_percent: NotRequired[int]
    in_flight_runs_target: NotRequired[int]
    """Average `langgraph_runs_in_flight` per pod (needs a custom-metrics adapter)."""
    scale_down_stabilization_seconds: NotRequired[int]


class LangGraphServiceArgs(TypedDict):
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    """Server image, by digest."""
    database_url: pulumi.Input[str]
    """DSN of the checkpoint store (kept secret)."""
    api_keys: NotRequired[pulumi.Input[list[str]]]
    """API keys clients must send; auth is off when absent."""
    provider_keys: NotRequired[pulumi.Input[dict[str, str]]]
    """Model-provider credentials as env var name to value (kept secret)."""
    replicas: NotRequired[int]
    """Fixed replica count, used only without autoscaling."""
    autoscaling: NotRequired[AutoscalingArgs]
    resources: NotRequired[ResourcesArgs]
    log_level: NotRequired[str]
    cors_origins: NotRequired[list[str]]
    max_run_seconds: NotRequired[int]
    db_pool_max_size: NotRequired[int]
    pod_labels: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra pod labels, e.g. the checkpoint store's `client_labels`."""
    ingress_from: NotRequired[list[NetworkPeerArgs]]
    """Who may reach the HTTP port: the gateway or ingress controller's pods, or a load balancer's CIDRs."""
    dns_peers: NotRequired[list[NetworkPeerArgs]]
    """Where the pods resolve names (default: the kube-dns pods; see `infra.network.DNS_PRESETS`)."""
    prometheus_namespace: NotRequired[str]
    """Namespace whose pods may scrape the metrics path."""
    database_egress_cidrs: NotRequired[list[str]]
    """Where the database lives when outside the cluster; otherwise the namespace's pods on 5432."""
    https_egress_cidrs: NotRequired[list[str]]
    """HTTPS destinations the server may call, e.g. model providers."""


class LangGraphService(pulumi.ComponentResource):
    """The LangGraph server: restricted pods behind a ClusterIP Service, autoscaled, disruption-safe.

    Every child gets the component's options, so the Deployment waits for `opts.depends_on` (e.g. the migration).
    """

    service_name: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    """In-cluster DNS name of the Service."""
    port: pulumi.Output[int]
    deployment_name: pulumi.Output[str]

    def __init__(self, name: str, args: LangGraphServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:LangGraphService", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        namespace = args["namespace"]
        labels = standard_labels(name, "server")
        selector = selector_labels(name, "server")
        max_run_seconds = args.get("max_run_seconds", default(Server, "max_run_seconds"))
        drain_seconds = max_run_seconds + 5
        autoscaling = args.get("autoscaling")

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"namespace": namespace, "labels": labels},
            automount_service_account_token=False,
            opts=child,
        )
        settings = {
            contract.Env.HOST: "0.0.0.0",
            contract.Env.PORT: str(contract.HTTP_PORT),
            contract.Env.LOG_LEVEL: args.get("log_level", default(Server, "log_level")),
            contract.Env.CORS_ORIGINS: ",".join(args.get("cors_origins", [])),
            contract.Env.MAX_RUN_SECONDS: str(max_run_seconds),
            contract.Env.DRAIN_TIMEOUT_SECONDS: str(drain_seconds),
            contract.Env.DB_POOL_MAX_SIZE: str(args.get("db_pool_max_size", default(Server, "db_pool_max_size"))),
            contract.Env.MIGRATE_ON_STARTUP: "false",
            contract.Env.DATA_DIR: contract.TMP_DIR,
        }
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata={"namespace": namespace, "labels": labels}, data=settings, opts=child
        )
        secret_data = pulumi.Output.all(args["database_url"], args.get("api_keys"), args.get("provider_keys")).apply(
            lambda v: {
                contract.Env.DATABASE_URL: v[0],
                **({contract.Env.API_KEYS: ",".join(v[1])} if v[1] else {}),
                **(v[2] or {}),
            }
        )
        secret_data = pulumi.Output.secret(secret_data)
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"namespace": namespace, "labels": labels},
            type="Opaque",
            string_data=secret_data,
            opts=child,
        )
        # Rolls the pods when settings or secrets change; a hash reveals nothing of the secrets.
        checksum = pulumi.Output.unsecret(
            secret_data.apply(
                lambda data: hashlib.sha256(json.dumps([settings, data], sort_keys=True).encode()).hexdigest()
            )
        )
        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {}).apply(lambda extra: {**labels, **extra})
        http_probe = lambda path: {"httpGet": {"path": path, "port": contract.HTTP_PORT_NAME}}  # noqa: E731
        annotations = env_secret_checkov_skips(
            args["image"], f"The server reads {contract.Env.DATABASE_URL} and {contract.Env.API_KEYS} from env"
        )
        deployment_spec = {
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": f"{ROLLOUT_MAX_SURGE_PERCENT}%"},
            },
            "revisionHistoryLimit": 5,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": {"checksum/config": checksum}},
                "spec": {
                    "serviceAccountName": service_account.metadata.name,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": PRESTOP_SECONDS + drain_seconds,
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": selector},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector},
                        }
                    ],
                    "containers": [
                        {
                            "name": "server",
                            "image": args["image"],
                            "imagePullPolicy": pulumi.Output.from_input(args["image"]).apply(pull_policy),
                            "ports": [{"name": contract.HTTP_PORT_NAME, "containerPort": contract.HTTP_PORT}],
                            "envFrom": [
                                {"configMapRef": {"name": config_map.metadata.name}},
                                {"secretRef": {"name": secret.metadata.name}},
                            ],
                            "securityContext": container_security_context(),
                            "resources": resources_spec(args.get("resources") or default(StackConfig, "resources")),
                            "startupProbe": {
                                **http_probe(contract.HEALTH_PATH),
                                "periodSeconds": 2,
                                "failureThreshold": 60,
                            },
                            "livenessProbe": {
                                **http_probe(contract.HEALTH_PATH),
                                "periodSeconds": 10,
                                "timeoutSeconds": 3,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": {
                                **http_probe(contract.READY_PATH),
                                "periodSeconds": 5,
                                "timeoutSeconds": 3,
                                "failureThreshold": 2,
                            },
                            "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
                            "volumeMounts": [{"name": "tmp", "mountPath": contract.TMP_DIR}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        }
        if not autoscaling:
            deployment_spec["replicas"] = args.get("replicas", 1)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"namespace": namespace, "labels": labels, "annotations": annotations},
            spec=deployment_spec,
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"namespace": namespace, "labels": {**labels, JOB_LABEL: metrics_job(name)}},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [
                    {
                        "name": contract.HTTP_PORT_NAME,
                        "port": contract.HTTP_PORT,
                        "targetPort": contract.HTTP_PORT_NAME,
                    }
                ],
            },
            opts=child,
        )
        floor = autoscaling["min_replicas"] if autoscaling else args.get("replicas", 1)
        if autoscaling:
            self._autoscaler(name, namespace, labels, deployment, autoscaling, child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "selector": {"matchLabels": selector},
                **({"minAvailable": min(2, floor - 1)} if floor > 1 else {"maxUnavailable": 1}),
            },
            opts=child,
        )
        self._network_policy(name, namespace, labels, selector, args, child)

        self.service_name = service.metadata.name
        self.dns_name = pulumi.Output.concat(service.metadata.name, ".", namespace, ".svc.cluster.local")
        self.port = pulumi.Output.from_input(contract.HTTP_PORT)
        self.deployment_name = deployment.metadata.name
        self.register_outputs(
            {
                "service_name": self.service_name,
                "dns_name": self.dns_name,
                "port": self.port,
                "deployment_name": self.deployment_name,
            }
        )

    def _autoscaler(self, name, namespace, labels, deployment, autoscaling: AutoscalingArgs, child) -> None:
        metrics = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": autoscaling.get("cpu_target_percent", 70)},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": autoscaling.get("memory_target_percent", 80),
                    },
                },
            },
        ]
        if autoscaling.get("in_flight_runs_target"):
            metrics.append(
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": contract.Metrics.RUNS_IN_FLIGHT},
                        "target": {"type": "AverageValue", "averageValue": str(autoscaling["in_flight_runs_target"])},
                    },
                }
            )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "minReplicas": autoscaling["min_replicas"],
                "maxReplicas": autoscaling["max_replicas"],
                "metrics": metrics,
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": 60},
                            {"type": "Pods", "value": 4, "periodSeconds": 60},
                        ],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": autoscaling.get("scale_down_stabilization_seconds", 300),
                        "selectPolicy": "Min",
                        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
                    },
                },
            },
            opts=child,
        )

    def _network_policy(self, name, namespace, labels, selector, args: LangGraphServiceArgs, child) -> None:
        http = [{"protocol": "TCP", "port": contract.HTTP_PORT}]
        prometheus = network_peer({"namespace": args.get("prometheus_namespace", "monitoring")})
        ingress = [{"from": [prometheus], "ports": http}]
        if args.get("ingress_from"):
            ingress.insert(0, {"from": [network_peer(peer) for peer in args["ingress_from"]], "ports": http})
        egress = [dns_egress(args.get("dns_peers")), database_egress(args.get("database_egress_cidrs"))]
        if args.get("https_egress_cidrs"):
            egress.append(
                {
                    "to": [{"ipBlock": {"cidr": c}} for c in args["https_egress_cidrs"]],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress,
                "egress": egress,
            },
            opts=child,
        )
