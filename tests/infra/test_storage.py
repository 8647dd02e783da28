"""Data outlives mistakes: volumes grow in place, and what holds data is protected and kept on `destroy`."""

from infra.mocks import run_stack


def by_name(run, type_token: str) -> dict:
    return {r.name: r for r in run.of_type(type_token)}


def test_database_volume_grows_in_place_without_replacing_the_statefulset():
    run = run_stack("prod", overrides={"postgres": {"storageSize": "80Gi", "maxConnections": 400}})
    statefulset = run.one("kubernetes:apps/v1:StatefulSet")
    assert "spec.volumeClaimTemplates" in statefulset.ignore_changes
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = run.one("kubernetes:core/v1:PersistentVolumeClaimPatch")
    assert claim.inputs["metadata"]["name"] == "data-langgraph-db-postgres-0"  # the claim the template creates
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "80Gi"
    assert statefulset.urn in claim.dependencies


def test_data_is_protected_and_kept_on_destroy_by_default():
    run = run_stack("prod")
    assert run.one("kubernetes:apps/v1:StatefulSet").protect
    backup_claim = run.one("kubernetes:core/v1:PersistentVolumeClaim")
    assert backup_claim.protect and backup_claim.retain_on_delete
    secrets = by_name(run, "kubernetes:core/v1:Secret")
    assert secrets["langgraph-db-credentials"].retain_on_delete and secrets["langgraph-db-roles"].retain_on_delete
    assert run.one("kubernetes:core/v1:Namespace").retain_on_delete  # deleting it would delete the volumes


def test_protection_can_be_turned_off_for_a_throwaway_cluster():
    run = run_stack("dev", overrides={"postgres": {"protect": False, "storageSize": "1Gi"}})
    assert not run.one("kubernetes:apps/v1:StatefulSet").protect
    assert not run.one("kubernetes:core/v1:Namespace").retain_on_delete
    assert not any(r.retain_on_delete for r in run.resources)
