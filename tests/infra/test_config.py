"""Bad stack configs stop the program before any resource exists, with one message naming each bad key."""

import pytest

from infra.config import StackConfigError
from infra.mocks import reveal, run_stack
from tests.tokens import Token

BAD_CONFIGS = [
    (
        {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 2}},
        "langgraph-k8s:autoscaling.maxReplicas (2) must be >= minReplicas (3)",
    ),
    (
        {"ingress": {"mode": "nginx"}},
        "langgraph-k8s:ingress.mode: must be one of 'gateway', 'ingress', 'none' (got 'nginx')",
    ),
    (
        {"ingress": {"mode": "gateway", "host": "a.example.com"}},
        "langgraph-k8s:ingress.gateway is required when mode is 'gateway'",
    ),
    ({"ingress": {"mode": "ingress"}}, "langgraph-k8s:ingress.host is required when mode is 'ingress'"),
    (
        {"namespace": "default"},
        "langgraph-k8s:namespace: must be a DNS label and not a system namespace (got 'default')",
    ),
    (
        {"server": {"corsOrigins": ["*"]}},
        "langgraph-k8s:server.corsOrigins: each origin must be an explicit 'scheme://host[:port]'",
    ),
    (
        {"observability": {"thresholds": {"http5xxRatio": 2}}},
        "langgraph-k8s:observability.thresholds.http5xxRatio: input should be less than 1",
    ),
    ({"replicas": "many"}, "langgraph-k8s:replicas: input should be a valid integer"),
    (
        {"resources": {"limits": {"cpu": "lots", "memory": "1Gi"}}},
        "langgraph-k8s:resources.limits.cpu: must be a Kubernetes quantity",
    ),
    (
        {"postgres": {"storagSize": "1Gi"}},
        "langgraph-k8s:postgres.storagSize: unknown key; did you mean 'storageSize'?",
    ),
    (
        {"autoscalling": {"enabled": True}},
        "langgraph-k8s:autoscalling: unknown key; did you mean 'autoscaling'?",
    ),
    (
        {"observability": {"enabled": True}},
        "langgraph-k8s:observability.runbookBaseUrl is required when enabled",
    ),
    (
        {"observability": {"enabled": True, "runbookBaseUrl": "README.md"}},
        "langgraph-k8s:observability.runbookBaseUrl: must be an absolute http(s) URL",
    ),
    ({"frobnicate": 1}, "langgraph-k8s:frobnicate: unknown key (known keys: namespace, image,"),
    (
        {"providerKeys": {"DATABASE_URL": "postgresql://attacker/db"}},
        "langgraph-k8s:providerKeys.DATABASE_URL: is reserved for the server's own setting",
    ),
    (
        {"providerKeys": {"API_KEYS": "k"}},
        "langgraph-k8s:providerKeys.API_KEYS: is reserved for the server's own setting",
    ),
    (
        {"providerKeys": {"openai-key": "k"}},
        "langgraph-k8s:providerKeys.openai-key: must be an environment variable name (A-Z, 0-9, _)",
    ),
    ({"providerKeys": ["OPENAI_API_KEY"]}, "langgraph-k8s:providerKeys: must be an object of env var names"),
    ({"postgres": {"image": "postgres:17"}}, "langgraph-k8s:postgres.image: must pin a digest"),
    (
        {"postgres": {"mode": "external", "maxConnections": 400}, "backup": {"enabled": False}},
        "langgraph-k8s:databaseUrl: is required when postgres.mode is 'external'",
    ),
    (
        {"postgres": {"mode": "external", "maxConnections": 400}},
        "langgraph-k8s:backup.enabled is only for postgres.mode 'in-cluster' (got 'external')",
    ),
    (
        {"retention": {"days": 30, "interruptedDays": 7}},
        "langgraph-k8s:retention.interruptedDays (7) must be >= days (30)",
    ),
    ({"retention": {"interruptedDays": 7}}, "langgraph-k8s:retention.days: is required"),
    ({"retention": {"days": 0}}, "langgraph-k8s:retention.days: input should be greater than or equal to 1"),
    (
        {"retention": {"days": 30, "schedule": "daily at 3"}},
        "langgraph-k8s:retention.schedule: must be a cron schedule with five fields",
    ),
    (
        {"backup": {"enabled": True, "schedule": "0 0 3 * * *"}},
        "langgraph-k8s:backup.schedule: must be a cron schedule with five fields",
    ),
    ({"backup": {"keep": 0}}, "langgraph-k8s:backup.keep: input should be greater than or equal to 1"),
    ({"backup": {"storageSize": "lots"}}, "langgraph-k8s:backup.storageSize: must be a Kubernetes quantity"),
    ({"dashboard": {"enabled": "sometimes"}}, "langgraph-k8s:dashboard.enabled: input should be a valid boolean"),
    (
        {"observability": {"thresholds": {"oldestThreadAgeDays": -1}}},
        "langgraph-k8s:observability.thresholds.oldestThreadAgeDays: input should be greater than 0",
    ),
    (
        {"server": {"logLevel": "TRACE"}},
        "langgraph-k8s:server.logLevel: must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR' (got 'TRACE')",
    ),
    (
        {"server": {"maxRunSeconds": 0}},
        "langgraph-k8s:server.maxRunSeconds: input should be greater than or equal to 10",
    ),
    ({"egress": {"httpsCidrs": ["10.0.0.0/33"]}}, "langgraph-k8s:egress.httpsCidrs: each entry must be a CIDR"),
    ({"image": {"reference": "ghcr.io/x/y:latest"}}, "langgraph-k8s:image.reference: must pin a digest"),
    ({"autoscaling": "{not json"}, "langgraph-k8s:autoscaling: is not valid JSON"),
]


@pytest.mark.parametrize(("override", "message"), BAD_CONFIGS, ids=[m.split(":")[1][:40] for _, m in BAD_CONFIGS])
def test_bad_config_is_rejected_before_any_resource(override, message, monkeypatch):
    registered = []
    import infra.mocks as harness

    original = harness.RecordingMonitor.RegisterResource

    def spy(self, request):
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(harness.RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(StackConfigError) as caught:
        run_stack("prod", overrides=override)
    text = str(caught.value)
    assert text.startswith("Invalid config for stack 'prod':\n  - ")
    assert message in text
    assert [t for t in registered if t != Token.STACK] == []


def test_all_problems_are_listed_in_one_message():
    with pytest.raises(StackConfigError) as caught:
        run_stack("dev", overrides={"namespace": "kube-system", "server": {"logLevel": "LOUD", "auth": "maybe"}})
    assert len(caught.value.problems) == 3
    assert {p.split(":")[1] for p in caught.value.problems} == {"namespace", "server.logLevel", "server.auth"}


def test_secret_provider_keys_are_checked_with_the_rest_of_the_config():
    with pytest.raises(StackConfigError, match=r"providerKeys\.LOG_LEVEL: is reserved"):
        run_stack(
            "dev", overrides={"providerKeys": {"LOG_LEVEL": "DEBUG", "OPENAI_API_KEY": "sk"}}, secrets=["providerKeys"]
        )


def test_good_provider_keys_reach_the_server_secret():
    run = run_stack("dev", overrides={"providerKeys": {"OPENAI_API_KEY": "sk-1"}}, secrets=["providerKeys"])
    secret = next(r for r in run.of_type(Token.SECRET) if r.name == "langgraph-server-secret")
    assert reveal(secret.inputs["stringData"])["OPENAI_API_KEY"] == "sk-1"


def test_connection_budget_counts_every_pod_at_full_scale_during_a_rollout():
    overrides = {
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 50},
        "server": {"dbPoolMaxSize": 10},
        "postgres": {"maxConnections": 100},
    }
    with pytest.raises(StackConfigError) as caught:
        run_stack("prod", overrides=overrides)
    [problem] = caught.value.problems
    assert problem.startswith("langgraph-k8s:postgres.maxConnections (100) is below what this stack can open: 643")
    assert "63 server pods (50 + 25% rollout surge) x server.dbPoolMaxSize 10 = 630" in problem
    assert "3 job connections (migration, retention, backup)" in problem and "10 reserved" in problem


def test_connection_budget_that_fits_is_accepted_and_set_on_the_in_cluster_database():
    run = run_stack("dev", overrides={"postgres": {"maxConnections": 50, "storageSize": "1Gi"}})
    statefulset = run.one(Token.STATEFUL_SET).inputs
    [container] = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["postgres", "-c", "max_connections=50"]


def test_replicas_without_autoscaling_count_too():
    with pytest.raises(StackConfigError, match=r"is below what this stack can open: 56 \(4 server pods"):
        run_stack("dev", overrides={"replicas": 3, "server": {"dbPoolMaxSize": 11}, "postgres": {"maxConnections": 50}})


PGVECTOR_IMAGE = "docker.io/pgvector/pgvector:pg17@sha256:" + "0" * 64


def _context_with_store_index(tmp_path):
    (tmp_path / "langgraph.json").write_text(
        '{"graphs": {"steps": "./steps.py:graph"}, "store": {"index": {"embed": "./embed.py:embed", "dims": 16}}}'
    )
    return {"image": {"build": {"context": str(tmp_path), "push": False}}}


def test_semantic_search_on_the_official_postgres_image_is_refused(tmp_path):
    with pytest.raises(StackConfigError) as caught:
        run_stack("dev", overrides=_context_with_store_index(tmp_path))
    assert "langgraph-k8s:postgres.image is the official postgres image, which has no pgvector" in str(caught.value)
    assert "store.index" in str(caught.value)


def test_semantic_search_with_a_pgvector_image_or_an_external_database_is_accepted(tmp_path):
    overrides = _context_with_store_index(tmp_path)
    run_stack("dev", overrides={**overrides, "postgres": {"image": PGVECTOR_IMAGE}})
    external = {"mode": "external", "maxConnections": 400}
    dsn = "postgresql://u:p@db.example:5432/langgraph"
    external_overrides = {**overrides, "postgres": external, "backup": {"enabled": False}, "databaseUrl": dsn}
    run_stack("dev", overrides=external_overrides, secrets=["databaseUrl"])
