"""The validation gate: every stack's fresh render, and the server's Dockerfile, pass validators the project did not
write with zero findings; and breaking one thing on purpose fails the gate naming the object and the reason.

A validator that cannot run (tool missing, nothing to check) raises `ValidatorUnavailable` and fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.render.conftest import STACKS, stack_config
from tools import schemas, validators
from tools.alert_cases import alert_cases, scrape_target


def _report(findings: list[validators.Finding]) -> str:
    return "\n".join(str(f) for f in findings)


@pytest.fixture(scope="module")
def crds(pinned_schema_dir: Path) -> validators.CustomResourceSchemas:
    return validators.CustomResourceSchemas.from_directory(pinned_schema_dir / schemas.CRD_SUBDIR)


@pytest.mark.parametrize("stack", STACKS)
def test_builtin_objects_pass_kubernetes_validate_strict(stack, rendered, crds):
    findings = validators.check_builtin_schemas(validators.load_manifests(rendered[stack]), custom_groups=crds.groups)
    assert findings == [], _report(findings)


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_pass_their_crd_schemas(stack, rendered, crds):
    manifests = validators.load_manifests(rendered[stack])
    config = stack_config(stack)
    expected_kinds = {"PrometheusRule", "ServiceMonitor"} if config.observability.enabled else set()
    expected_kinds |= {"HTTPRoute"} if config.ingress.mode == "gateway" else set()
    custom_kinds = {m.kind for m in manifests if m.body["apiVersion"].split("/")[0] in crds.groups}
    assert custom_kinds == expected_kinds

    findings = crds.check(manifests)
    assert findings == [], _report(findings)


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_pass_checkov(stack, rendered):
    findings = validators.run_checkov(rendered[stack], "kubernetes")
    assert findings == [], _report(findings)


@pytest.mark.parametrize("stack", STACKS)
def test_alerts_pass_promtool_check_and_unit_tests(stack, rendered):
    manifests = validators.load_manifests(rendered[stack])
    if not stack_config(stack).observability.enabled:
        assert validators.rule_files(manifests) == [], f"{stack} disables observability but renders rules"
        return
    findings = validators.check_prometheus_rules(manifests, alert_cases(scrape_target(manifests)))
    assert findings == [], _report(findings)


def test_dockerfile_passes_hadolint():
    findings = validators.run_hadolint(validators.DOCKERFILE)
    assert findings == [], _report(findings)


def test_dockerfile_passes_checkov():
    findings = validators.run_checkov(validators.DOCKERFILE, "dockerfile")
    assert findings == [], _report(findings)


# --- broken on purpose ----------------------------------------------------------------------------------------------


def _broken_copy(rendered: dict[str, Path], tmp_path: Path, kind: str, breaking) -> tuple[Path, str]:
    """A copy of the prod render with the one object of `kind` changed by `breaking(body)`; returns (dir, subject)."""
    copy = tmp_path / "prod"
    shutil.copytree(rendered["prod"], copy)
    [path] = [p for p in copy.glob(f"{kind.lower()}-*.yaml")]
    body = yaml.safe_load(path.read_text())
    breaking(body)
    path.write_text(yaml.safe_dump(body))
    return copy, validators.Manifest(path, body).subject


def test_gate_names_an_unknown_field_in_the_deployment(rendered, tmp_path, crds):
    def misspell(body):
        body["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"

    broken, subject = _broken_copy(rendered, tmp_path, "Deployment", misspell)
    findings = validators.check_builtin_schemas(validators.load_manifests(broken), custom_groups=crds.groups)

    assert {f.subject for f in findings} == {subject}
    assert len(findings) == len(validators.SUPPORTED_KUBERNETES_VERSIONS)
    assert all("'imagePullPolcy' was unexpected" in f.reason for f in findings), _report(findings)


def test_gate_names_a_container_without_limits(rendered, tmp_path):
    def drop_limits(body):
        del body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]

    broken, subject = _broken_copy(rendered, tmp_path, "Deployment", drop_limits)
    findings = validators.run_checkov(broken, "kubernetes")

    about_the_deployment = {f.reason for f in findings if f.subject.startswith(subject + " (deployment-")}
    assert {"CKV_K8S_11 CPU limits should be set", "CKV_K8S_13 Memory limits should be set"} <= about_the_deployment


def test_gate_names_an_alert_expression_typo(rendered, tmp_path):
    def typo(body):
        rule = body["spec"]["groups"][0]["rules"][0]
        rule["expr"] = rule["expr"].replace("rate(", "rat(", 1)

    broken, subject = _broken_copy(rendered, tmp_path, "PrometheusRule", typo)
    manifests = validators.load_manifests(broken)
    [finding] = validators.check_prometheus_rules(manifests, alert_cases(scrape_target(manifests)))

    assert (finding.validator, finding.subject) == ("promtool check rules", subject)
    assert 'unknown function with name "rat"' in finding.reason


def test_gate_names_an_unknown_field_in_a_custom_resource(rendered, tmp_path, crds):
    def misplace(body):
        body["spec"]["endpoints"][0]["scrapeInterval"] = "30s"

    broken, subject = _broken_copy(rendered, tmp_path, "ServiceMonitor", misplace)
    [finding] = crds.check(validators.load_manifests(broken))

    assert finding.subject == subject
    assert finding.reason == "spec.endpoints.0: Additional properties are not allowed ('scrapeInterval' was unexpected)"
