"""Run the real __main__.py for each stack under mocks and check the inventory and the fields that matter."""

import json
import re

import jsonschema
import pytest
import yaml

from app import contract
from infra.mocks import PROJECT_ROOT, contains_secret, is_secret, run_stack
from tools import schemas

K = "kubernetes:"
PROD_RUNBOOKS = "https://github.com/example/langgraph-k8s/blob/main/docs/runbooks.md"
EXPECTED = {
    "dev": {
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 5,
        "kubernetes:core/v1:Service": 2,
        "kubernetes:core/v1:Secret": 5,
        "kubernetes:apps/v1:StatefulSet": 1,
        "kubernetes:core/v1:PersistentVolumeClaimPatch": 1,
        "kubernetes:batch/v1:Job": 1,
        "kubernetes:batch/v1:CronJob": 1,
        "kubernetes:core/v1:ServiceAccount": 1,
        "kubernetes:core/v1:ConfigMap": 1,
        "kubernetes:policy/v1:PodDisruptionBudget": 1,
        "kubernetes:apps/v1:Deployment": 1,
        "docker:index/image:Image": 1,
        "random:index/randomPassword:RandomPassword": 4,
    },
    "prod": {
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 6,
        "kubernetes:core/v1:Service": 2,
        "kubernetes:core/v1:Secret": 5,
        "kubernetes:apps/v1:StatefulSet": 1,
        "kubernetes:core/v1:PersistentVolumeClaimPatch": 1,
        "kubernetes:batch/v1:Job": 1,
        "kubernetes:batch/v1:CronJob": 2,
        "kubernetes:core/v1:PersistentVolumeClaim": 1,
        "kubernetes:core/v1:ServiceAccount": 1,
        "kubernetes:core/v1:ConfigMap": 3,
        "kubernetes:policy/v1:PodDisruptionBudget": 1,
        "kubernetes:apps/v1:Deployment": 1,
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": 1,
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule": 1,
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": 1,
        "docker:index/image:Image": 1,
        "random:index/randomPassword:RandomPassword": 5,
    },
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def run(request):
    result = run_stack(request.param)
    result.stack = request.param
    return result


def pod_specs(run):
    for r in run.kubernetes_objects():
        spec = r.inputs.get("spec", {})
        if "template" in spec:
            yield r, spec["template"]["spec"]
        if "jobTemplate" in spec:
            yield r, spec["jobTemplate"]["spec"]["template"]["spec"]


def test_inventory(run):
    counts = {t: n for t, n in run.type_counts().items() if not t.startswith("langgraph:")}
    assert counts == EXPECTED[run.stack]
    components = {t for t in run.type_counts() if t.startswith("langgraph:index:")}
    assert {
        "langgraph:index:LangGraphPlatform",
        "langgraph:index:LangGraphService",
        "langgraph:index:PostgresCheckpointStore",
        "langgraph:index:SchemaMigration",
    } <= components


def test_every_pod_is_restricted(run):
    specs = list(pod_specs(run))
    assert {r.kind for r, _ in specs} == {"Deployment", "StatefulSet", "Job", "CronJob"}
    for resource, spec in specs:
        assert spec["automountServiceAccountToken"] is False, resource.name
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 10000
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            if "@sha256:" in container["image"]:
                assert container["imagePullPolicy"] == "Always"
            else:  # dev's unpushed build: a content-addressed tag a kind/k3d node has after `kind load`
                assert run.stack == "dev" and resource.kind != "StatefulSet"
                assert re.fullmatch(r"localhost:5000/langgraph-server:dev-[0-9a-f]{12}", container["image"])
                assert container["imagePullPolicy"] == "IfNotPresent"
            assert set(container["resources"]) == {"requests", "limits"}
            assert {m["mountPath"] for m in container["volumeMounts"]} >= {contract.TMP_DIR}


def test_every_namespaced_object_is_in_the_stack_namespace(run):
    namespace = run.one("kubernetes:core/v1:Namespace").inputs["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for r in run.kubernetes_objects():
        if r.kind != "Namespace":
            assert r.inputs["metadata"]["namespace"] == namespace["name"], r.name


def test_server_deployment(run):
    deployment = run.one("kubernetes:apps/v1:Deployment").inputs
    spec = deployment["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["startupProbe"]["httpGet"]["path"] == contract.HEALTH_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == contract.HEALTH_PATH
    assert container["readinessProbe"]["httpGet"]["path"] == contract.READY_PATH
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    max_run = {"dev": 300, "prod": 900}[run.stack]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] > max_run
    assert len(spec["template"]["metadata"]["annotations"]["checksum/config"]) == 64
    assert spec["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    if run.stack == "prod":
        assert "replicas" not in spec
        assert container["image"].endswith("@sha256:" + "0" * 64)
    else:
        assert spec["replicas"] == 1


def test_migration_job_runs_before_the_deployment(run):
    job = run.one("kubernetes:batch/v1:Job")
    deployment = run.one("kubernetes:apps/v1:Deployment")
    assert job.urn in deployment.dependencies  # the engine waits for the Job to complete before rolling
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == contract.MIGRATE_COMMAND
    env = next(c for c in run.of_type("kubernetes:core/v1:ConfigMap") if "server" in c.name).inputs["data"]
    assert env[contract.Env.MIGRATE_ON_STARTUP] == "false"


def test_secrets_are_secret_and_configmaps_hold_none(run):
    for secret in run.of_type("kubernetes:core/v1:Secret"):
        assert is_secret(secret.inputs["stringData"]), secret.name
    server_secret = next(s for s in run.of_type("kubernetes:core/v1:Secret") if "server" in s.name)
    keys = set(server_secret.inputs["stringData"]["value"])
    assert contract.Env.DATABASE_URL in keys
    assert (contract.Env.API_KEYS in keys) == (run.stack == "prod")
    for config_map in run.of_type("kubernetes:core/v1:ConfigMap"):
        assert not contains_secret(config_map.inputs)
        text = json.dumps(config_map.inputs)
        assert "mock-generated-password" not in text and "postgresql://" not in text
    assert is_secret(run.stack_outputs["apiKey"])


def test_autoscaling_and_disruption_budget(run):
    pdb = run.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    if run.stack == "dev":
        assert pdb == {**pdb, "maxUnavailable": 1}
        assert not run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
        return
    assert pdb["minAvailable"] == 2
    hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 50)
    targets = {m.get("resource", {}).get("name") or m["pods"]["metric"]["name"]: m for m in hpa["metrics"]}
    assert targets["cpu"]["resource"]["target"]["averageUtilization"] == 65
    assert targets["memory"]["resource"]["target"]["averageUtilization"] == 75
    assert targets[contract.Metrics.RUNS_IN_FLIGHT]["pods"]["target"]["averageValue"] == "20"
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_network_policies(run):
    policies = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    deny = [p for p in policies if p.inputs["spec"]["podSelector"] == {}]
    assert len(deny) == 1 and deny[0].inputs["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny[0].inputs["spec"] and "egress" not in deny[0].inputs["spec"]
    db = next(p for p in policies if "db" in p.name).inputs["spec"]
    assert db["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    allowed = db["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    server_pod = run.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["metadata"]["labels"]
    job_pod = run.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["metadata"]["labels"]
    assert allowed.items() <= server_pod.items() and allowed.items() <= job_pod.items()
    for cron_job in run.of_type("kubernetes:batch/v1:CronJob"):
        assert (
            allowed.items() <= cron_job.inputs["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].items()
        )
    server = next(p for p in policies if "server" in p.name).inputs["spec"]
    sources = [
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for rule in server["ingress"]
    ]
    assert sources == (["gateway-system", "monitoring"] if run.stack == "prod" else ["monitoring"])
    egress_ports = [p["port"] for rule in server["egress"] for p in rule["ports"]]
    assert egress_ports == ([53, 53, 5432, 443] if run.stack == "prod" else [53, 53, 5432])


def test_prod_route_and_alerts(run):
    if run.stack != "prod":
        assert not run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
        return
    route = run.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute").inputs["spec"]
    assert route["hostnames"] == ["agents.example.com"]
    assert route["rules"][0]["timeouts"]["request"] == "960s"
    assert run.stack_outputs["url"] == "https://agents.example.com"
    rules = run.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]["groups"][0]["rules"]
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["runbook_url"] == f"{PROD_RUNBOOKS}#alert-{rule['alert'].lower()}"
        assert "$job" not in rule["expr"] and "$namespace" not in rule["expr"]


def test_pulumi_yaml_matches_the_project_schema(pinned_schema_dir):
    schema = json.loads((pinned_schema_dir / schemas.PROJECT_SCHEMA).read_text())
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(project)
    assert project["name"] == "langgraph-k8s"


def test_scrape_job_is_named_after_the_service(run):
    service = next(r for r in run.of_type("kubernetes:core/v1:Service") if r.name == "langgraph-server-service")
    assert service.inputs["metadata"]["labels"]["langgraph-k8s.io/job"] == "langgraph-server"
