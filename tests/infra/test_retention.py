"""CheckpointRetention: the prune CronJob."""

from __future__ import annotations

import pytest

import infra
from app import contract
from tests.infra.harness import (
    SERVER_IMAGE,
    assert_all_use_provider,
    assert_reaches_only_dns_and_postgres,
    assert_restricted,
    cron_pod,
    with_provider,
)
from tests.tokens import Token


def test_retention_alone_runs_the_prune_command_on_schedule():
    args = {
        "namespace": "team-a",
        "image": SERVER_IMAGE,
        "dsn_secret_name": "store-dsn",
        "days": 30,
        "interrupted_days": 90,
        "schedule": "0 4 * * 1",
        "batch_size": 200,
        "pod_labels": {"langgraph-k8s.io/postgres-client": "store"},
    }
    run = with_provider(lambda o: infra.CheckpointRetention("prune", args, o))
    assert_all_use_provider(run)
    cron_job = run.one(Token.CRON_JOB)
    assert cron_job.inputs["spec"]["schedule"] == "0 4 * * 1"
    assert_restricted(cron_job)
    assert_reaches_only_dns_and_postgres(run, cron_job)
    pod = cron_pod(cron_job)
    assert pod["metadata"]["labels"]["langgraph-k8s.io/postgres-client"] == "store"
    [container] = pod["spec"]["containers"]
    assert container["image"] == SERVER_IMAGE
    assert container["command"] == contract.PRUNE_COMMAND
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env == {
        contract.Env.DATABASE_URL: {"secretKeyRef": {"name": "store-dsn", "key": "DATABASE_URL"}},
        contract.Env.RETENTION_DAYS: "30",
        contract.Env.RETENTION_INTERRUPTED_DAYS: "90",
        contract.Env.PRUNE_BATCH_SIZE: "200",
    }
    annotations = cron_job.inputs["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"].startswith("CKV_K8S_35=")
    assert "checkov.io/skip2" not in annotations  # the image is pinned, so the digest check applies


def test_retention_rejects_interrupted_days_below_days():
    with pytest.raises(ValueError, match=r"interrupted_days >= days \(got 30, 7\)"):
        with_provider(
            lambda o: infra.CheckpointRetention(
                "prune",
                {"namespace": "a", "image": SERVER_IMAGE, "dsn_secret_name": "s", "days": 30, "interrupted_days": 7},
                o,
            )
        )
