"""Helpers the component tests share: a component alone on an explicit provider, restricted-pod checks."""

from __future__ import annotations

import promql_parser
import pulumi
import pulumi_kubernetes as k8s

from app import contract
from infra.mocks import run_program
from tests.tokens import Token


def with_provider(build):
    def program():
        provider = k8s.Provider("other-cluster", kubeconfig="{}", namespace="team-a")
        build(pulumi.ResourceOptions(provider=provider))

    return run_program(program)


def assert_all_use_provider(run):
    provider = run.one(Token.KUBERNETES_PROVIDER)
    for r in run.kubernetes_objects():
        assert r.provider.startswith(provider.urn), r.name


SERVER_IMAGE = "ghcr.io/a/server@sha256:" + "1" * 64


def cron_pod(cron_job) -> dict:
    return cron_job.inputs["spec"]["jobTemplate"]["spec"]["template"]


def assert_restricted(cron_job) -> None:
    spec = cron_job.inputs["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] <= 2
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["runAsUser"] > 10000 and security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == contract.TMP_DIR)
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


def assert_reaches_only_dns_and_postgres(run, cron_job) -> None:
    [policy] = run.of_type(Token.NETWORK_POLICY)
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= cron_pod(cron_job)["metadata"]["labels"].items()
    assert spec["ingress"] == []
    assert [p["port"] for rule in spec["egress"] for p in rule["ports"]] == [53, 53, 5432]


def metric_names(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects, found by walking the parsed syntax tree."""
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"selector without a metric name in {expr!r}"
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(
            node,
            promql_parser.AggregateExpr
            | promql_parser.ParenExpr
            | promql_parser.UnaryExpr
            | promql_parser.SubqueryExpr,
        ):
            walk(node.expr)
        else:
            assert isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral), type(node)

    walk(promql_parser.parse(expr))
    return names
