"""Each component alone, with an explicit Kubernetes provider, as another Pulumi program would use it."""

import inspect

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.provider.experimental.analyzer import Analyzer

import infra
from app import contract
from infra.mocks import is_secret, run_program

README_ANCHORS = {alert.anchor for alert in infra.ALERTS}


def with_provider(build):
    def program():
        provider = k8s.Provider("other-cluster", kubeconfig="{}", namespace="team-a")
        build(pulumi.ResourceOptions(provider=provider))

    return run_program(program)


def assert_all_use_provider(run):
    provider = run.one("pulumi:providers:kubernetes")
    for r in run.kubernetes_objects():
        assert r.provider.startswith(provider.urn), r.name


def test_store_probes_as_its_own_user_and_database():
    """The pod's uid has no passwd entry: without -U, pg_isready makes no attempt (exit 3; see tests/e2e)."""
    args = {"namespace": "a", "user": "agent", "database": "runs"}
    run = with_provider(lambda o: infra.PostgresCheckpointStore("store", args, o))
    container = run.one("kubernetes:apps/v1:StatefulSet").inputs["spec"]["template"]["spec"]["containers"][0]
    expected = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "agent", "-d", "runs"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == expected


def test_store_alone_in_cluster():
    run = with_provider(lambda o: infra.PostgresCheckpointStore("store", {"namespace": "team-a"}, o))
    assert_all_use_provider(run)
    statefulset = run.one("kubernetes:apps/v1:StatefulSet").inputs
    assert statefulset["metadata"]["name"] == "store-postgres"
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert "@sha256:" in container["image"]
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert run.one("kubernetes:core/v1:Service").inputs["metadata"]["name"] == "store-postgres"
    for secret in run.of_type("kubernetes:core/v1:Secret"):
        assert is_secret(secret.inputs["stringData"])
    [dsn_secret] = [s for s in run.of_type("kubernetes:core/v1:Secret") if s.name == "store-dsn"]
    dsn = dsn_secret.inputs["stringData"]["value"]
    assert dsn["DATABASE_URL"].startswith("postgresql://langgraph:mock-generated-password@store-postgres.team-a")


def test_store_alone_external_creates_only_the_dsn_secret():
    run = with_provider(
        lambda o: infra.PostgresCheckpointStore(
            "store", {"namespace": "team-a", "mode": "external", "external_dsn": "postgresql://u:p@db.example.com/x"}, o
        )
    )
    kinds = sorted(r.kind for r in run.kubernetes_objects())
    assert kinds == ["Secret"]
    assert not run.of_type("random:index/randomPassword:RandomPassword")


def test_service_alone():
    run = with_provider(
        lambda o: infra.LangGraphService(
            "api",
            {
                "namespace": "team-a",
                "image": "ghcr.io/a/b@sha256:" + "1" * 64,
                "database_url": "postgresql://x",
                "autoscaling": {"min_replicas": 2, "max_replicas": 4},
            },
            o,
        )
    )
    assert_all_use_provider(run)
    deployment = run.one("kubernetes:apps/v1:Deployment").inputs
    assert "replicas" not in deployment["spec"]
    assert run.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]["minAvailable"] == 1
    hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu", "memory"]
    service = run.one("kubernetes:core/v1:Service").inputs["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == contract.HTTP_PORT


def test_observability_alone_has_one_rule_per_alert():
    base = "https://git.example.com/ops/runbooks.md"
    run = with_provider(
        lambda o: infra.Observability(
            "obs", {"namespace": "team-a", "service_instance": "api", "runbook_base_url": base}, o
        )
    )
    rules = run.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [a.name for a in infra.ALERTS]
    assert {r["annotations"]["runbook_url"] for r in rules} == {f"{base}#{anchor}" for anchor in README_ANCHORS}
    names = {
        "LangGraphHigh5xxRatio",
        "LangGraphSlowP95",
        "LangGraphMemoryNearLimit",
        "LangGraphDbPoolExhausted",
        "LangGraphPodCrashLooping",
        "LangGraphServerNotReady",
        "LangGraphRunErrorRatio",
        "LangGraphRunsTimingOut",
        "LangGraphCheckpointWriteSlow",
        "LangGraphCheckpointDbGrowingFast",
        "LangGraphOldThreadsNotPruned",
    }
    assert {a.name for a in infra.ALERTS} == names
    monitor = run.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor").inputs["spec"]
    assert monitor["endpoints"][0]["path"] == contract.METRICS_PATH


@pytest.mark.parametrize(("mode", "kinds"), [("gateway", ["HTTPRoute"]), ("ingress", ["Ingress"]), ("none", [])])
def test_ingress_alone(mode, kinds):
    args = {
        "namespace": "team-a",
        "mode": mode,
        "service_name": "api",
        "service_port": 8000,
        "host": "a.example.com",
        "gateway": {"name": "gw", "namespace": "gw-ns"},
        "ingress_class_name": "nginx",
        "tls_issuer": "letsencrypt",
    }
    run = with_provider(lambda o: infra.Ingress("edge", args, o))
    assert [r.kind for r in run.kubernetes_objects()] == kinds
    if mode == "ingress":
        annotations = run.one("kubernetes:networking.k8s.io/v1:Ingress").inputs["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"


def test_components_are_accepted_by_the_schema_analyzer():
    result = Analyzer("langgraph").analyze(list(infra.COMPONENTS))
    definitions = result["component_definitions"]
    assert set(definitions) == {c.__name__ for c in infra.COMPONENTS}
    assert "dsn" in definitions["PostgresCheckpointStore"].outputs
    for component in infra.COMPONENTS:
        assert f'"langgraph:index:{component.__name__}"' in inspect.getsource(component)
