"""LangGraphPlatform: the real __main__.py per stack under mocks, its inventory, its wiring, the values that
matter, and the restore flag."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

import infra
from app import contract
from infra.metrics_adapter import VALUES_KEY
from infra.mocks import PROJECT_ROOT, contains_secret, is_secret, run_program, run_stack
from infra.observability import RETENTION_ALERT_SLACK_DAYS
from tests.infra.harness import (
    cron_pod,
)
from tests.tokens import Token
from tools import schemas

K = "kubernetes:"


PROD_RUNBOOKS = "https://github.com/example/langgraph-k8s/blob/main/docs/runbooks.md"


EXPECTED = {
    "dev": {
        Token.NAMESPACE: 1,
        Token.NETWORK_POLICY: 5,
        Token.SERVICE: 2,
        Token.SECRET: 5,
        Token.STATEFUL_SET: 1,
        Token.PERSISTENT_VOLUME_CLAIM_PATCH: 1,
        Token.JOB: 1,
        Token.CRON_JOB: 1,
        Token.SERVICE_ACCOUNT: 1,
        Token.CONFIG_MAP: 1,
        Token.POD_DISRUPTION_BUDGET: 1,
        Token.DEPLOYMENT: 1,
        Token.DOCKER_IMAGE: 1,
        Token.RANDOM_PASSWORD: 4,
    },
    "prod": {
        Token.NAMESPACE: 1,
        Token.NETWORK_POLICY: 6,
        Token.SERVICE: 2,
        Token.SECRET: 5,
        Token.STATEFUL_SET: 1,
        Token.PERSISTENT_VOLUME_CLAIM_PATCH: 1,
        Token.JOB: 1,
        Token.CRON_JOB: 2,
        Token.PERSISTENT_VOLUME_CLAIM: 1,
        Token.SERVICE_ACCOUNT: 1,
        Token.CONFIG_MAP: 3,
        Token.POD_DISRUPTION_BUDGET: 1,
        Token.DEPLOYMENT: 1,
        Token.HORIZONTAL_POD_AUTOSCALER: 1,
        Token.SERVICE_MONITOR: 1,
        Token.PROMETHEUS_RULE: 1,
        Token.H_T_T_P_ROUTE: 1,
        Token.DOCKER_IMAGE: 1,
        Token.RANDOM_PASSWORD: 5,
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
        Token.COMPONENT_LANGGRAPH_PLATFORM,
        Token.COMPONENT_LANGGRAPH_SERVICE,
        Token.COMPONENT_POSTGRES_CHECKPOINT_STORE,
        Token.COMPONENT_SCHEMA_MIGRATION,
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
    namespace = run.one(Token.NAMESPACE).inputs["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for r in run.kubernetes_objects():
        if r.kind != "Namespace":
            assert r.inputs["metadata"]["namespace"] == namespace["name"], r.name


def test_server_deployment(run):
    deployment = run.one(Token.DEPLOYMENT).inputs
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
    job = run.one(Token.JOB)
    deployment = run.one(Token.DEPLOYMENT)
    assert job.urn in deployment.dependencies  # the engine waits for the Job to complete before rolling
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == contract.MIGRATE_COMMAND
    env = next(c for c in run.of_type(Token.CONFIG_MAP) if "server" in c.name).inputs["data"]
    assert env[contract.Env.MIGRATE_ON_STARTUP] == "false"


def test_secrets_are_secret_and_configmaps_hold_none(run):
    for secret in run.of_type(Token.SECRET):
        assert is_secret(secret.inputs["stringData"]), secret.name
    server_secret = next(s for s in run.of_type(Token.SECRET) if "server" in s.name)
    keys = set(server_secret.inputs["stringData"]["value"])
    assert contract.Env.DATABASE_URL in keys
    assert (contract.Env.API_KEYS in keys) == (run.stack == "prod")
    for config_map in run.of_type(Token.CONFIG_MAP):
        assert not contains_secret(config_map.inputs)
        text = json.dumps(config_map.inputs)
        assert "mock-generated-password" not in text and "postgresql://" not in text
    assert is_secret(run.stack_outputs["apiKey"])


def test_autoscaling_and_disruption_budget(run):
    pdb = run.one(Token.POD_DISRUPTION_BUDGET).inputs["spec"]
    if run.stack == "dev":
        assert pdb == {**pdb, "maxUnavailable": 1}
        assert not run.of_type(Token.HORIZONTAL_POD_AUTOSCALER)
        return
    assert pdb["minAvailable"] == 2
    hpa = run.one(Token.HORIZONTAL_POD_AUTOSCALER).inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 50)
    targets = {m.get("resource", {}).get("name") or m["pods"]["metric"]["name"]: m for m in hpa["metrics"]}
    assert targets["cpu"]["resource"]["target"]["averageUtilization"] == 65
    assert targets["memory"]["resource"]["target"]["averageUtilization"] == 75
    assert targets[contract.Metrics.RUNS_IN_FLIGHT]["pods"]["target"]["averageValue"] == "20"
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_network_policies(run):
    policies = run.of_type(Token.NETWORK_POLICY)
    deny = [p for p in policies if p.inputs["spec"]["podSelector"] == {}]
    assert len(deny) == 1 and deny[0].inputs["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny[0].inputs["spec"] and "egress" not in deny[0].inputs["spec"]
    db = next(p for p in policies if "db" in p.name).inputs["spec"]
    assert db["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    allowed = db["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    server_pod = run.one(Token.DEPLOYMENT).inputs["spec"]["template"]["metadata"]["labels"]
    job_pod = run.one(Token.JOB).inputs["spec"]["template"]["metadata"]["labels"]
    assert allowed.items() <= server_pod.items() and allowed.items() <= job_pod.items()
    for cron_job in run.of_type(Token.CRON_JOB):
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
        assert not run.of_type(Token.H_T_T_P_ROUTE)
        return
    route = run.one(Token.H_T_T_P_ROUTE).inputs["spec"]
    assert route["hostnames"] == ["agents.example.com"]
    assert route["rules"][0]["timeouts"]["request"] == "960s"
    assert run.stack_outputs["url"] == "https://agents.example.com"
    rules = run.one(Token.PROMETHEUS_RULE).inputs["spec"]["groups"][0]["rules"]
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
    service = next(r for r in run.of_type(Token.SERVICE) if r.name == "langgraph-server-service")
    assert service.inputs["metadata"]["labels"]["langgraph-k8s.io/job"] == "langgraph-server"


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


def test_prod_wires_retention_backup_dashboard_and_adapter(prod):
    [prune, backup] = sorted(prod.of_type(Token.CRON_JOB), key=lambda r: "backup" in r.name)
    assert prune.inputs["spec"]["schedule"] == "17 3 * * *"
    env = {e["name"]: e.get("value") for e in cron_pod(prune)["spec"]["containers"][0]["env"]}
    assert (env[contract.Env.RETENTION_DAYS], env[contract.Env.RETENTION_INTERRUPTED_DAYS]) == ("30", "90")
    server = prod.one(Token.DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    assert cron_pod(prune)["spec"]["containers"][0]["image"] == server["image"]
    dsn_secret = next(s for s in prod.of_type(Token.SECRET) if s.name.endswith("-db-prune-dsn"))
    secret_ref = cron_pod(prune)["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
    assert secret_ref["name"] == dsn_secret.outputs["metadata"]["name"]

    assert backup.inputs["spec"]["schedule"] == "30 2 * * *"
    backup_env = {e["name"]: e["value"] for e in cron_pod(backup)["spec"]["containers"][0]["env"]}
    assert backup_env["KEEP"] == "14"
    statefulset = prod.one(Token.STATEFUL_SET).inputs["spec"]["template"]["spec"]["containers"][0]
    assert cron_pod(backup)["spec"]["containers"][0]["image"] == statefulset["image"]  # pg_dump matches the server
    credentials = next(s for s in prod.of_type(Token.SECRET) if s.name.endswith("-db-roles"))
    password_volume = next(v for v in cron_pod(backup)["spec"]["volumes"] if v["name"] == "password")
    assert password_volume["secret"]["secretName"] == credentials.outputs["metadata"]["name"]
    claim = prod.one(Token.PERSISTENT_VOLUME_CLAIM).inputs
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"

    dashboards = [c for c in prod.of_type(Token.CONFIG_MAP) if "dashboard" in c.name]
    assert [d.inputs["metadata"]["labels"]["grafana_dashboard"] for d in dashboards] == ["1"]
    hpa = prod.one(Token.HORIZONTAL_POD_AUTOSCALER).inputs["spec"]
    pods_metric = next(m["pods"]["metric"]["name"] for m in hpa["metrics"] if m["type"] == "Pods")
    adapter = next(c for c in prod.of_type(Token.CONFIG_MAP) if "adapter" in c.name)
    exposed = yaml.safe_load(adapter.inputs["data"][VALUES_KEY])["rules"]["custom"][0]["name"]["as"]
    assert pods_metric == exposed


def test_prod_unpruned_thread_alert_follows_retention(prod):
    rules = prod.one(Token.PROMETHEUS_RULE).inputs["spec"]["groups"][0]["rules"]
    oldest = next(r for r in rules if r["alert"] == "LangGraphOldThreadsNotPruned")
    assert oldest["expr"].endswith(f"> {(90 + RETENTION_ALERT_SLACK_DAYS) * 86400}")


def test_dev_runs_retention_without_backup_or_dashboard():
    dev = run_stack("dev")
    [prune] = dev.of_type(Token.CRON_JOB)
    assert cron_pod(prune)["spec"]["containers"][0]["command"] == contract.PRUNE_COMMAND
    assert not dev.of_type(Token.PERSISTENT_VOLUME_CLAIM)
    assert [c.name for c in dev.of_type(Token.CONFIG_MAP)] == ["langgraph-server-config"]


def test_operations_are_off_when_not_configured():
    run = run_program(lambda: infra.LangGraphPlatform("lg", {"settings": {}}))
    assert not run.of_type(Token.CRON_JOB)
    assert not run.of_type(Token.PERSISTENT_VOLUME_CLAIM)
    assert [c.name for c in run.of_type(Token.CONFIG_MAP)] == ["lg-server-config"]


HPA = Token.HORIZONTAL_POD_AUTOSCALER


@pytest.fixture(scope="module")
def restoring():
    return run_stack("prod", overrides={"restoring": True})


def test_restoring_scales_the_server_to_zero_without_an_autoscaler(restoring):
    assert restoring.one(Token.DEPLOYMENT).inputs["spec"]["replicas"] == 0
    assert not restoring.of_type(HPA)  # an HPA would not scale a Deployment at zero back up, nor leave it there


def test_restoring_suspends_prune_and_backup(restoring):
    cron_jobs = restoring.of_type(Token.CRON_JOB)
    assert len(cron_jobs) == 2
    assert all(c.inputs["spec"]["suspend"] is True for c in cron_jobs)


def test_without_the_flag_everything_runs_again():
    run = run_stack("prod")
    assert "replicas" not in run.one(Token.DEPLOYMENT).inputs["spec"]
    assert run.one(HPA)
    assert all(c.inputs["spec"].get("suspend", False) is False for c in run.of_type(Token.CRON_JOB))


def test_restoring_a_fixed_size_server_also_scales_it_to_zero():
    run = run_stack("dev", overrides={"restoring": True})
    assert run.one(Token.DEPLOYMENT).inputs["spec"]["replicas"] == 0
    assert run.one(Token.CRON_JOB).inputs["spec"]["suspend"] is True
