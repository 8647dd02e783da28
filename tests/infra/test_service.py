"""LangGraphService alone: autoscaled Deployment, Service, disruption budget."""

from __future__ import annotations

import infra
from app import contract
from tests.infra.harness import (
    assert_all_use_provider,
    with_provider,
)
from tests.tokens import Token


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
    deployment = run.one(Token.DEPLOYMENT).inputs
    assert "replicas" not in deployment["spec"]
    assert run.one(Token.POD_DISRUPTION_BUDGET).inputs["spec"]["minAvailable"] == 1
    hpa = run.one(Token.HORIZONTAL_POD_AUTOSCALER).inputs["spec"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu", "memory"]
    service = run.one(Token.SERVICE).inputs["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == contract.HTTP_PORT
