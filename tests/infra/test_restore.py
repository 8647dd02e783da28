"""`restoring: true` is the supported way to hold the stack still for a restore, and removing it resumes everything."""

import pytest

from infra.mocks import run_stack

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


@pytest.fixture(scope="module")
def restoring():
    return run_stack("prod", overrides={"restoring": True})


def test_restoring_scales_the_server_to_zero_without_an_autoscaler(restoring):
    assert restoring.one("kubernetes:apps/v1:Deployment").inputs["spec"]["replicas"] == 0
    assert not restoring.of_type(HPA)  # an HPA would not scale a Deployment at zero back up, nor leave it there


def test_restoring_suspends_prune_and_backup(restoring):
    cron_jobs = restoring.of_type("kubernetes:batch/v1:CronJob")
    assert len(cron_jobs) == 2
    assert all(c.inputs["spec"]["suspend"] is True for c in cron_jobs)


def test_without_the_flag_everything_runs_again():
    run = run_stack("prod")
    assert "replicas" not in run.one("kubernetes:apps/v1:Deployment").inputs["spec"]
    assert run.one(HPA)
    assert all(c.inputs["spec"].get("suspend", False) is False for c in run.of_type("kubernetes:batch/v1:CronJob"))


def test_restoring_a_fixed_size_server_also_scales_it_to_zero():
    run = run_stack("dev", overrides={"restoring": True})
    assert run.one("kubernetes:apps/v1:Deployment").inputs["spec"]["replicas"] == 0
    assert run.one("kubernetes:batch/v1:CronJob").inputs["spec"]["suspend"] is True
