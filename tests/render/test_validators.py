"""Each validator of the gate on small hand-written inputs: it passes what is valid and names what is not."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from app.contract import Metrics
from tools import schemas, validators
from tools.validators import AlertCase, Manifest, ValidatorUnavailable

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "demo"}}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "server", "namespace": "demo"},
    "spec": {
        "selector": {"matchLabels": {"app": "server"}},
        "template": {
            "metadata": {"labels": {"app": "server"}},
            "spec": {"containers": [{"name": "server", "image": "registry.example/server@sha256:" + "0" * 64}]},
        },
    },
}

ALERT_EXPR = f'sum(rate({Metrics.RUNS}{{outcome="error"}}[5m])) > 1'

PROMETHEUS_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "alerts", "namespace": "demo", "labels": {"team": "agents"}},
    "spec": {
        "groups": [
            {
                "name": "runs",
                "rules": [
                    {
                        "alert": "RunErrors",
                        "expr": ALERT_EXPR,
                        "for": "5m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "{{ $value }} failed runs per second"},
                    }
                ],
            }
        ]
    },
}

RUN_ERRORS_CASE = AlertCase(
    unhealthy=({"series": f'{Metrics.RUNS}{{outcome="error",graph="review"}}', "values": "0+300x40"},),
    healthy=({"series": f'{Metrics.RUNS}{{outcome="error",graph="review"}}', "values": "0+1x40"},),
    eval_time="20m",
)


def manifests(*bodies: dict) -> list[Manifest]:
    return [Manifest(Path(f"{i}.yaml"), copy.deepcopy(body)) for i, body in enumerate(bodies)]


# --- kubernetes-validate -----------------------------------------------------------------------------------------


def test_builtin_objects_pass_on_every_supported_version():
    assert validators.check_builtin_schemas(manifests(CONFIG_MAP, DEPLOYMENT)) == []


def test_unknown_field_in_a_deployment_is_named_for_each_version():
    broken = copy.deepcopy(DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"

    findings = validators.check_builtin_schemas(manifests(broken))

    assert [f.validator for f in findings] == [
        f"kubernetes-validate {v} --strict" for v in validators.SUPPORTED_KUBERNETES_VERSIONS
    ]
    assert {f.subject for f in findings} == {"Deployment/demo/server"}
    assert all("imagePullPolcy" in f.reason and "spec.template.spec.containers.0" in f.reason for f in findings)


def test_an_object_without_a_builtin_schema_is_a_finding_not_a_skip():
    unknown = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    findings = validators.check_builtin_schemas(manifests(unknown), versions=("1.35",))
    assert len(findings) == 1
    assert "Couldn't find schema for kind Deploymnet" in findings[0].reason


def test_custom_resources_are_left_to_the_crd_check():
    assert validators.check_builtin_schemas(manifests(PROMETHEUS_RULE), custom_groups={"monitoring.coreos.com"}) == []


# --- CRD schemas --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crds(pinned_schema_dir: Path) -> validators.CustomResourceSchemas:
    return validators.CustomResourceSchemas.from_directory(pinned_schema_dir / schemas.CRD_SUBDIR)


def test_crds_cover_the_custom_kinds_the_platform_renders(crds):
    kinds = {key for key in crds.validators}
    assert {
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    } <= kinds


def test_a_valid_prometheus_rule_passes(crds):
    assert crds.check(manifests(PROMETHEUS_RULE)) == []


def test_unknown_field_in_a_custom_resource_is_named(crds):
    broken = copy.deepcopy(PROMETHEUS_RULE)
    broken["spec"]["groups"][0]["rules"][0]["severity"] = "page"

    [finding] = crds.check(manifests(broken))

    assert finding.subject == "PrometheusRule/demo/alerts"
    assert finding.reason.startswith("spec.groups.0.rules.0:")
    assert "'severity' was unexpected" in finding.reason


def test_custom_resource_metadata_is_checked_as_object_meta(crds):
    broken = copy.deepcopy(PROMETHEUS_RULE)
    broken["metadata"]["label"] = {"team": "agents"}
    [finding] = crds.check(manifests(broken))
    assert "metadata" in finding.reason and "'label' was unexpected" in finding.reason


def test_int_or_string_accepts_both_and_rejects_others(crds):
    as_int = copy.deepcopy(PROMETHEUS_RULE)
    as_int["spec"]["groups"][0]["rules"][0]["expr"] = 1
    as_list = copy.deepcopy(PROMETHEUS_RULE)
    as_list["spec"]["groups"][0]["rules"][0]["expr"] = [ALERT_EXPR]

    assert crds.check(manifests(as_int)) == []
    [finding] = crds.check(manifests(as_list))
    assert finding.reason.startswith("spec.groups.0.rules.0.expr:")


def test_list_map_keys_must_be_unique(crds):
    broken = copy.deepcopy(PROMETHEUS_RULE)
    broken["spec"]["groups"].append(copy.deepcopy(broken["spec"]["groups"][0]))
    [finding] = crds.check(manifests(broken))
    assert "duplicate map key (name='runs')" in finding.reason


def test_an_unserved_version_is_a_finding(crds):
    old = {**copy.deepcopy(PROMETHEUS_RULE), "apiVersion": "monitoring.coreos.com/v1alpha1"}
    [finding] = crds.check(manifests(old))
    assert "no served CRD version for monitoring.coreos.com/v1alpha1 PrometheusRule" in finding.reason


def test_httproute_schema_rejects_a_wrong_type(crds):
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "server", "namespace": "demo"},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "infra"}],
            "hostnames": ["agents.example.com"],
            "rules": [{"backendRefs": [{"name": "server", "port": "http"}]}],
        },
    }
    [finding] = crds.check(manifests(route))
    assert finding.subject == "HTTPRoute/demo/server"
    assert finding.reason.startswith("spec.rules.0.backendRefs.0.port:")


# --- checkov ------------------------------------------------------------------------------------------------------


def write(directory: Path, *bodies: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i, body in enumerate(bodies):
        (directory / f"{body['kind'].lower()}-{i}.yaml").write_text(yaml.safe_dump(body))
    return directory


def test_checkov_names_a_container_without_limits(tmp_path):
    findings = validators.run_checkov(write(tmp_path / "render", DEPLOYMENT), "kubernetes")
    by_check = {f.reason.split()[0]: f for f in findings}
    assert {"CKV_K8S_11", "CKV_K8S_13"} <= set(by_check)  # CPU and memory limits
    assert by_check["CKV_K8S_13"].subject == "Deployment/demo/server (deployment-0.yaml)"
    assert "Memory limits should be set" in by_check["CKV_K8S_13"].reason


def test_checkov_skip_needs_a_reason(tmp_path):
    with_reason = copy.deepcopy(DEPLOYMENT)
    with_reason["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_11=why it does not apply"}
    without_reason = copy.deepcopy(DEPLOYMENT)
    without_reason["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_11"}

    reasons_with = [f.reason for f in validators.run_checkov(write(tmp_path / "a", with_reason), "kubernetes")]
    reasons_without = [f.reason for f in validators.run_checkov(write(tmp_path / "b", without_reason), "kubernetes")]

    assert not any(r.startswith("CKV_K8S_11") for r in reasons_with)
    assert "CKV_K8S_11 skipped without a reason (write `CKV_K8S_11=<why>`)" in reasons_without


def test_checkov_ignores_a_global_skip_list(tmp_path, monkeypatch):
    for home in (tmp_path, tmp_path / "home"):
        home.mkdir(exist_ok=True)
        (home / ".checkov.yaml").write_text("skip-check:\n  - CKV_K8S_11\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    findings = validators.run_checkov(write(tmp_path / "render", DEPLOYMENT), "kubernetes")
    assert "CKV_K8S_11" in {f.reason.split()[0] for f in findings}


def test_checkov_that_checked_nothing_fails(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidatorUnavailable, match="checked nothing"):
        validators.run_checkov(tmp_path / "empty", "kubernetes")
    with pytest.raises(ValidatorUnavailable, match="does not exist"):
        validators.run_checkov(tmp_path / "missing", "kubernetes")
    with pytest.raises(ValidatorUnavailable, match="checkov not found"):
        validators.run_checkov(tmp_path, "kubernetes", checkov=tmp_path / "no-checkov")


# --- hadolint -----------------------------------------------------------------------------------------------------


def test_hadolint_names_rule_and_line(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\nRUN apt-get update && apt-get install -y curl\n")
    findings = validators.run_hadolint(dockerfile)
    assert {f.subject for f in findings} == {"Dockerfile:2"}
    assert any(f.reason.startswith("DL3008 (warning) Pin versions") for f in findings)


def test_hadolint_on_a_missing_file_fails(tmp_path):
    with pytest.raises(ValidatorUnavailable, match="does not exist"):
        validators.run_hadolint(tmp_path / "Dockerfile")


# --- promtool -----------------------------------------------------------------------------------------------------


def test_alert_with_a_case_that_fires_and_stays_silent_passes():
    assert validators.check_prometheus_rules(manifests(PROMETHEUS_RULE), {"RunErrors": RUN_ERRORS_CASE}) == []


def test_alert_expression_typo_is_named_by_promtool_check():
    broken = copy.deepcopy(PROMETHEUS_RULE)
    broken["spec"]["groups"][0]["rules"][0]["expr"] = ALERT_EXPR.replace("sum(", "sum((")

    [finding] = validators.check_prometheus_rules(manifests(broken), {"RunErrors": RUN_ERRORS_CASE})

    assert finding.validator == "promtool check rules"
    assert finding.subject == "PrometheusRule/demo/alerts"
    assert "parse error" in finding.reason


def test_alert_without_a_case_and_a_case_without_an_alert_are_findings():
    findings = validators.check_prometheus_rules(manifests(PROMETHEUS_RULE), {"Gone": RUN_ERRORS_CASE})
    assert [(f.subject, f.reason) for f in findings] == [
        ("PrometheusRule/demo/alerts alert RunErrors", "no unit test (add an AlertCase)"),
        ("alert Gone", "has a unit test but no such alert exists"),
    ]


def test_an_alert_that_does_not_fire_on_its_unhealthy_series_is_a_finding():
    never_fires = copy.deepcopy(PROMETHEUS_RULE)
    never_fires["spec"]["groups"][0]["rules"][0]["expr"] = ALERT_EXPR.replace("> 1", "> 1000")

    [finding] = validators.check_prometheus_rules(manifests(never_fires), {"RunErrors": RUN_ERRORS_CASE})

    assert finding.validator == "promtool test rules"
    assert finding.subject == "PrometheusRule/demo/alerts alert RunErrors"
    assert "FAILED" in finding.reason and "alertname: RunErrors" in finding.reason


def test_an_alert_that_fires_on_healthy_series_is_a_finding():
    always_fires = copy.deepcopy(PROMETHEUS_RULE)
    always_fires["spec"]["groups"][0]["rules"][0]["expr"] = ALERT_EXPR.replace("> 1", ">= 0")
    [finding] = validators.check_prometheus_rules(manifests(always_fires), {"RunErrors": RUN_ERRORS_CASE})
    assert "got:[" in finding.reason and 'alertname="RunErrors"' in finding.reason


def test_rules_gate_without_any_prometheus_rule_fails():
    with pytest.raises(ValidatorUnavailable, match="no PrometheusRule"):
        validators.check_prometheus_rules(manifests(CONFIG_MAP), {})
