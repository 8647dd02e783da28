"""LangGraphService: the server Deployment and everything it needs to run safely and scale."""

import hashlib
import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .bundled_server import contract
from .config import ROLLOUT_MAX_SURGE_PERCENT, Autoscaling, Observability, Server, StackConfig, default
from .image import env_secret_checkov_skips, pull_policy
from .labels import JOB_LABEL, metrics_job, selector_labels, standard_labels
from .network import NetworkPeerArgs, database_egress, dns_egress, network_peer
from .pods import container_security_context, pod_security_context, resources_spec
from .postgres import ResourcesArgs

PRESTOP_SECONDS = 10
"""How long a pod keeps serving after removal from endpoints, so load balancers stop sending to it."""
DRAIN_MARGIN_SECONDS = 5
"""The drain timeout beyond the longest run, so a run that just fits its limit can finish."""


class AutoscalingArgs(TypedDict):
    min_replicas: int
    max_replicas: int
    cpu_target_percent: NotRequired[int]
    memory_target_percent: NotRequired[int]
    in_flight_runs_target: NotRequired[int]
    """Average runs per pod, running plus pending: `langgraph_runs_in_flight` as the adapter rule serves it
    (`infra.metrics_adapter`: each pod's running runs plus its share of `langgraph_runs_pending`)."""
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
        metadata = k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=labels)
        autoscaling = args.get("autoscaling")

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=metadata, automount_service_account_token=False, opts=child
        )
        settings = _settings(args)
        config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata=metadata, data=settings, opts=child)
        secret_data = _secret_data(args)
        secret = k8s.core.v1.Secret(
            f"{name}-secret", metadata=metadata, type="Opaque", string_data=secret_data, opts=child
        )
        # Rolls the pods when settings or secrets change; a hash reveals nothing of the secrets.
        checksum = pulumi.Output.unsecret(
            secret_data.apply(
                lambda data: hashlib.sha256(json.dumps([settings, data], sort_keys=True).encode()).hexdigest()
            )
        )
        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {}).apply(lambda extra: {**labels, **extra})
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=namespace,
                labels=labels,
                annotations=env_secret_checkov_skips(
                    args["image"], f"The server reads {contract.Env.DATABASE_URL} and {contract.Env.API_KEYS} from env"
                ),
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # An HPA owns the replica count when there is one; setting it here would fight the HPA.
                replicas=None if autoscaling else args.get("replicas", default(StackConfig, "replicas")),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=f"{ROLLOUT_MAX_SURGE_PERCENT}%"
                    ),
                ),
                revision_history_limit=5,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pod_labels, annotations={"checksum/config": checksum}),
                    spec=_pod_spec(args, selector, service_account, config_map, secret),
                ),
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels={**labels, JOB_LABEL: metrics_job(name)}),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=contract.HTTP_PORT_NAME, port=contract.HTTP_PORT, target_port=contract.HTTP_PORT_NAME
                    )
                ],
            ),
            opts=child,
        )
        if autoscaling:
            _autoscaler(name, metadata, deployment, autoscaling, child)
        _disruption_budget(
            name,
            metadata,
            selector,
            autoscaling["min_replicas"] if autoscaling else args.get("replicas", default(StackConfig, "replicas")),
            child,
        )
        _network_policy(name, metadata, selector, args, child)

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


def _drain_seconds(args: LangGraphServiceArgs) -> int:
    """How long a stopping pod lets its runs finish: the longest run, and a little more."""
    return args.get("max_run_seconds", default(Server, "max_run_seconds")) + DRAIN_MARGIN_SECONDS


def _settings(args: LangGraphServiceArgs) -> dict[str, str]:
    """The server's non-secret environment (`app.contract.Env`)."""
    return {
        contract.Env.HOST: "0.0.0.0",
        contract.Env.PORT: str(contract.HTTP_PORT),
        contract.Env.LOG_LEVEL: args.get("log_level", default(Server, "log_level")),
        contract.Env.CORS_ORIGINS: ",".join(args.get("cors_origins", [])),
        contract.Env.MAX_RUN_SECONDS: str(args.get("max_run_seconds", default(Server, "max_run_seconds"))),
        contract.Env.DRAIN_TIMEOUT_SECONDS: str(_drain_seconds(args)),
        contract.Env.DB_POOL_MAX_SIZE: str(args.get("db_pool_max_size", default(Server, "db_pool_max_size"))),
        contract.Env.MIGRATE_ON_STARTUP: "false",
        contract.Env.DATA_DIR: contract.TMP_DIR,
    }


def _secret_data(args: LangGraphServiceArgs) -> pulumi.Output[dict[str, str]]:
    """The server's secret environment: its DSN, the API keys, the model-provider keys."""
    return pulumi.Output.secret(
        pulumi.Output.all(args["database_url"], args.get("api_keys"), args.get("provider_keys")).apply(
            lambda v: {
                contract.Env.DATABASE_URL: v[0],
                **({contract.Env.API_KEYS: ",".join(v[1])} if v[1] else {}),
                **(v[2] or {}),
            }
        )
    )


def _http_probe(path: str, **timing: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=contract.HTTP_PORT_NAME), **timing
    )


def _pod_spec(args, selector, service_account, config_map, secret) -> k8s.core.v1.PodSpecArgs:
    """Restricted, spread over nodes and zones, drained for the longest run before it stops."""
    server = k8s.core.v1.ContainerArgs(
        name="server",
        image=args["image"],
        image_pull_policy=pulumi.Output.from_input(args["image"]).apply(pull_policy),
        ports=[k8s.core.v1.ContainerPortArgs(name=contract.HTTP_PORT_NAME, container_port=contract.HTTP_PORT)],
        env_from=[
            k8s.core.v1.EnvFromSourceArgs(
                config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=config_map.metadata.name)
            ),
            k8s.core.v1.EnvFromSourceArgs(secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=secret.metadata.name)),
        ],
        security_context=container_security_context(),
        resources=resources_spec(args.get("resources") or default(StackConfig, "resources")),
        startup_probe=_http_probe(contract.HEALTH_PATH, period_seconds=2, failure_threshold=60),
        liveness_probe=_http_probe(contract.HEALTH_PATH, period_seconds=10, timeout_seconds=3, failure_threshold=3),
        readiness_probe=_http_probe(contract.READY_PATH, period_seconds=5, timeout_seconds=3, failure_threshold=2),
        lifecycle=k8s.core.v1.LifecycleArgs(
            pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=PRESTOP_SECONDS))
        ),
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=contract.TMP_DIR)],
    )
    spread = k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account.metadata.name,
        automount_service_account_token=False,
        security_context=pod_security_context(),
        termination_grace_period_seconds=PRESTOP_SECONDS + _drain_seconds(args),
        affinity=k8s.core.v1.AffinityArgs(
            pod_anti_affinity=k8s.core.v1.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=k8s.core.v1.PodAffinityTermArgs(
                            label_selector=spread, topology_key="kubernetes.io/hostname"
                        ),
                    )
                ]
            )
        ),
        topology_spread_constraints=[
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=spread,
            )
        ],
        containers=[server],
        volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi"))],
    )


def _resource_metric(resource: str, percent: int) -> k8s.autoscaling.v2.MetricSpecArgs:
    return k8s.autoscaling.v2.MetricSpecArgs(
        type="Resource",
        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
            name=resource,
            target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=percent),
        ),
    )


def _autoscaler(name, metadata, deployment, autoscaling: AutoscalingArgs, opts) -> None:
    """Scales fast on CPU, memory and (with an adapter) in-flight runs, and slowly back down."""
    metrics = [
        _resource_metric("cpu", autoscaling.get("cpu_target_percent", default(Autoscaling, "cpu_target_percent"))),
        _resource_metric(
            "memory", autoscaling.get("memory_target_percent", default(Autoscaling, "memory_target_percent"))
        ),
    ]
    if autoscaling.get("in_flight_runs_target"):
        metrics.append(
            k8s.autoscaling.v2.MetricSpecArgs(
                type="Pods",
                pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                    metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=contract.Metrics.RUNS_IN_FLIGHT),
                    target=k8s.autoscaling.v2.MetricTargetArgs(
                        type="AverageValue", average_value=str(autoscaling["in_flight_runs_target"])
                    ),
                ),
            )
        )
    policy = k8s.autoscaling.v2.HPAScalingPolicyArgs
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-hpa",
        metadata=metadata,
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                api_version="apps/v1", kind="Deployment", name=deployment.metadata.name
            ),
            min_replicas=autoscaling["min_replicas"],
            max_replicas=autoscaling["max_replicas"],
            metrics=metrics,
            behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                scale_up=k8s.autoscaling.v2.HPAScalingRulesArgs(
                    stabilization_window_seconds=0,
                    select_policy="Max",
                    policies=[
                        policy(type="Percent", value=100, period_seconds=60),
                        policy(type="Pods", value=4, period_seconds=60),
                    ],
                ),
                scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                    stabilization_window_seconds=autoscaling.get(
                        "scale_down_stabilization_seconds", default(Autoscaling, "scale_down_stabilization_seconds")
                    ),
                    select_policy="Min",
                    policies=[policy(type="Percent", value=10, period_seconds=60)],
                ),
            ),
        ),
        opts=opts,
    )


def _disruption_budget(name, metadata, selector, floor: int, opts) -> None:
    """Voluntary disruptions (node drains) keep at least two pods, or all but one, serving."""
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-pdb",
        metadata=metadata,
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            min_available=min(2, floor - 1) if floor > 1 else None,
            max_unavailable=None if floor > 1 else 1,
        ),
        opts=opts,
    )


def _network_policy(name, metadata, selector, args: LangGraphServiceArgs, opts) -> None:
    """In: the configured sources and Prometheus, on the HTTP port. Out: DNS, Postgres, the HTTPS destinations."""
    http = [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=contract.HTTP_PORT)]
    prometheus = network_peer(
        {"namespace": args.get("prometheus_namespace", default(Observability, "prometheus_namespace"))}
    )
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
        metadata=metadata,
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=egress,
        ),
        opts=opts,
    )
