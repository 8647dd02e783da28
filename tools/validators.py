"""The render gate: validators the project did not write, run over a rendered stack.

Every check returns a list of `Finding`s (empty means it passed); a validator that cannot run
(tool missing, nothing to check) raises `ValidatorUnavailable`, so a silently skipped check fails the gate.

    python -m tools.validators rendered/prod [--dockerfile app/Dockerfile]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
import referencing.jsonschema
import yaml

from tools import schemas as pinned_schemas

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = PROJECT_ROOT / "app" / "Dockerfile"
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
INDEX_FILE = "index.yaml"

# Oldest and newest Kubernetes minor versions the README promises; every built-in object is validated against both.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.35")

_CHECKOV_NO_REASON = {"", "No comment provided"}
_TOOL_TIMEOUT_SECONDS = 600


class ValidatorUnavailable(RuntimeError):
    """A validator could not run: a missing tool, or nothing for it to check."""


@dataclass(frozen=True, order=True)
class Finding:
    """One thing a validator rejected: which validator, which object or file, and why."""

    validator: str
    subject: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.validator}] {self.subject}: {self.reason}"


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object read from a rendered file."""

    path: Path
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body.get("kind", "")

    @property
    def subject(self) -> str:
        """`Kind/namespace/name` (or `Kind/name` for cluster-scoped objects), as findings name it."""
        metadata = self.body.get("metadata") or {}
        parts = [self.kind, metadata.get("namespace"), metadata.get("name")]
        return "/".join(str(p) for p in parts if p)


def load_manifests(render_dir: Path) -> list[Manifest]:
    """Every object in the `*.yaml` files of a render directory (the index excluded), in file order."""
    render_dir = Path(render_dir)
    if not render_dir.is_dir():
        raise ValidatorUnavailable(f"render directory {render_dir} does not exist")
    manifests = [
        Manifest(path, body)
        for path in sorted(render_dir.glob("*.yaml"))
        if path.name != INDEX_FILE
        for body in yaml.safe_load_all(path.read_text())
        if body
    ]
    if not manifests:
        raise ValidatorUnavailable(f"no Kubernetes objects in {render_dir}")
    return manifests


# --- built-in objects: kubernetes-validate --strict -------------------------------------------------------------


def check_builtin_schemas(
    manifests: Iterable[Manifest],
    versions: Iterable[str] = SUPPORTED_KUBERNETES_VERSIONS,
    custom_groups: Iterable[str] = (),
) -> list[Finding]:
    """Strict schema validation of every built-in object against each Kubernetes version.

    Objects whose API group is in `custom_groups` are custom resources (checked by `check_custom_resources`);
    any other object without a built-in schema is a finding, not a skip.
    """
    custom_groups = set(custom_groups)
    findings = []
    for manifest in manifests:
        if _api_group(manifest.body) in custom_groups:
            continue
        for version in versions:
            validator = f"kubernetes-validate {version} --strict"
            try:
                kubernetes_validate.validate(manifest.body, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                findings.append(Finding(validator, manifest.subject, _describe(error)))
            except kubernetes_validate.SchemaNotFoundError as error:
                findings.append(Finding(validator, manifest.subject, error.message))
    return findings


def _api_group(body: Mapping[str, Any]) -> str:
    api_version = str(body.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def _describe(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{path}: {error.message}"


# --- custom resources: the CRDs' openAPIV3Schema with jsonschema ------------------------------------------------


@dataclass
class CustomResourceSchemas:
    """The served versions of a set of CRDs, as structural jsonschema validators keyed by (apiVersion, kind)."""

    kubernetes_version: str = SUPPORTED_KUBERNETES_VERSIONS[-1]
    validators: dict[tuple[str, str], jsonschema.protocols.Validator] = field(default_factory=dict)

    @classmethod
    def from_directory(cls, crd_dir: Path | None = None) -> CustomResourceSchemas:
        """The CRDs of `crd_dir`, by default the pinned upstream ones (`tools.schemas`)."""
        crd_dir = pinned_schemas.crd_dir() if crd_dir is None else crd_dir
        crd_files = sorted(Path(crd_dir).glob("*.yaml"))
        if not crd_files:
            raise ValidatorUnavailable(f"no CRDs in {crd_dir}")
        schemas = cls()
        registry = _object_meta_registry(schemas.kubernetes_version)
        for path in crd_files:
            for crd in yaml.safe_load_all(path.read_text()):
                if crd and crd.get("kind") == "CustomResourceDefinition":
                    schemas._add(crd, registry)
        return schemas

    def _add(self, crd: Mapping[str, Any], registry: referencing.Registry) -> None:
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = structural_schema(version["schema"]["openAPIV3Schema"])
            schema.setdefault("properties", {})["metadata"] = {"$ref": _OBJECT_META_REF}
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
            self.validators[(f"{group}/{version['name']}", kind)] = _CrdValidator(schema, registry=registry)

    @property
    def groups(self) -> set[str]:
        return {api_version.split("/")[0] for api_version, _ in self.validators}

    def check(self, manifests: Iterable[Manifest]) -> list[Finding]:
        """Every custom resource (an object of a CRD's group) against its served version's schema."""
        findings = []
        for manifest in manifests:
            if _api_group(manifest.body) not in self.groups:
                continue
            key = (manifest.body.get("apiVersion"), manifest.kind)
            validator = self.validators.get(key)
            if validator is None:
                served = sorted(f"{v} {k}" for v, k in self.validators if k == manifest.kind)
                reason = f"no served CRD version for {key[0]} {key[1]} (served: {', '.join(served) or 'none'})"
                findings.append(Finding("crd-schema", manifest.subject, reason))
                continue
            errors = sorted(validator.iter_errors(manifest.body), key=lambda e: list(e.absolute_path))
            findings.extend(Finding("crd-schema", manifest.subject, _describe(e)) for e in errors)
        return findings


_OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _object_meta_registry(kubernetes_version: str) -> referencing.Registry:
    """kubernetes-validate's strict definitions, so a custom resource's metadata is checked as the API server does."""
    definitions_file = (
        resources.files(kubernetes_validate)
        / "kubernetes-json-schema"
        / f"v{kubernetes_version}.0-local-strict"
        / "_definitions.json"
    )
    definitions = referencing.Resource.from_contents(json.loads(definitions_file.read_text()))
    return referencing.Registry().with_resource(definitions.id(), definitions)


def structural_schema(schema: Any) -> Any:
    """A CRD schema turned into the jsonschema the API server effectively enforces.

    - Objects with `properties` reject unknown fields (the server's strict field validation) unless
      `x-kubernetes-preserve-unknown-fields` keeps them.
    - `x-kubernetes-int-or-string` accepts an integer or a string.
    - `nullable: true` also accepts null.
    - `x-kubernetes-list-type: set|map` lists must not repeat an item / a map key (checked by `_CrdValidator`).
    `x-kubernetes-validations` (CEL rules) are not evaluated.
    """
    if isinstance(schema, list):
        return [structural_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: structural_schema(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    if result.get("x-kubernetes-int-or-string") and "anyOf" not in result:
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if result.get("nullable") and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    return result


def _list_type(validator, list_type, instance, schema):
    """Enforce `x-kubernetes-list-type`: `set` items and `map` keys must be unique."""
    if not validator.is_type(instance, "array"):
        return
    if list_type == "set":
        seen = []
        for item in instance:
            if item in seen:
                yield jsonschema.ValidationError(f"duplicate entry {item!r} in a list of type set")
            seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen_keys = set()
        for item in instance:
            key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys) if isinstance(item, dict) else None
            if key in seen_keys:
                shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
                yield jsonschema.ValidationError(f"duplicate map key ({shown}) in a list of type map")
            seen_keys.add(key)


_CrdValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"x-kubernetes-list-type": _list_type})


def check_custom_resources(manifests: Iterable[Manifest], crd_dir: Path | None = None) -> list[Finding]:
    return CustomResourceSchemas.from_directory(crd_dir).check(manifests)


# --- checkov ------------------------------------------------------------------------------------------------------


def run_checkov(target: Path, framework: str, checkov: Path = CHECKOV) -> list[Finding]:
    """checkov over a directory (`kubernetes`) or a file (`dockerfile`), with no global skips.

    Every failed check is a finding, and so is every inline skip without a reason. A run that parsed nothing
    or passed nothing is not a pass: it raises `ValidatorUnavailable` (checkov exits 0 on a missing directory).
    """
    target = Path(target).resolve()
    if not Path(checkov).is_file():
        raise ValidatorUnavailable(f"checkov not found at {checkov} (run `make tools`)")
    if not target.exists():
        raise ValidatorUnavailable(f"checkov target {target} does not exist")
    target_flag = "-d" if target.is_dir() else "-f"
    command = [str(checkov), "--framework", framework, "--skip-download", target_flag, str(target), "-o", "json"]
    with tempfile.TemporaryDirectory() as empty_home:  # no .checkov.yaml (cwd or home) can add global skips
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=empty_home,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "HOME": empty_home},
            timeout=_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise ValidatorUnavailable(
            f"checkov gave no JSON report (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
        ) from error
    reports = report if isinstance(report, list) else [report]
    summaries = [r.get("summary", {}) for r in reports]
    if not any(s.get("resource_count") for s in summaries) or not any(s.get("passed") for s in summaries):
        raise ValidatorUnavailable(f"checkov {framework} checked nothing in {target}: {summaries}")
    validator = f"checkov {framework}"
    findings = []
    for r in reports:
        results = r.get("results", {})
        for failed in results.get("failed_checks", []):
            reason = f"{failed['check_id']} {failed['check_name']}"
            findings.append(Finding(validator, _checkov_subject(failed), reason))
        for skipped in results.get("skipped_checks", []):
            comment = (skipped.get("check_result") or {}).get("suppress_comment", "")
            if comment.strip() in _CHECKOV_NO_REASON:
                reason = f"{skipped['check_id']} skipped without a reason (write `{skipped['check_id']}=<why>`)"
                findings.append(Finding(validator, _checkov_subject(skipped), reason))
        for error in results.get("parsing_errors", []):
            findings.append(Finding(validator, str(error), "could not be parsed"))
    return sorted(findings)


def _checkov_subject(result: Mapping[str, Any]) -> str:
    """checkov names Kubernetes objects `Kind.namespace.name`; show them as `Kind/namespace/name (file)`."""
    resource = str(result.get("resource", ""))
    file_name = Path(str(result.get("file_path", ""))).name
    if result.get("check_id", "").startswith("CKV_K8S") and resource.count(".") >= 1:
        return f"{resource.replace('.', '/', 2)} ({file_name})"
    return f"{file_name} {resource}".strip()


# --- hadolint ---------------------------------------------------------------------------------------------------


def find_tool(name: str) -> str:
    """A tool from this interpreter's venv, else from PATH; `ValidatorUnavailable` when neither has it."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which(name)
    if not found:
        raise ValidatorUnavailable(f"{name} not found (next to {sys.executable} or on PATH)")
    return found


def run_hadolint(dockerfile: Path = DOCKERFILE) -> list[Finding]:
    """hadolint on a Dockerfile: every rule it reports, down to style level, is a finding."""
    dockerfile = Path(dockerfile).resolve()
    if not dockerfile.is_file():
        raise ValidatorUnavailable(f"Dockerfile {dockerfile} does not exist")
    with tempfile.TemporaryDirectory() as empty_cwd:  # no stray .hadolint.yaml can ignore rules
        completed = subprocess.run(
            [find_tool("hadolint"), "--no-color", "--format", "json", str(dockerfile)],
            capture_output=True,
            text=True,
            cwd=empty_cwd,
            env={**os.environ, "XDG_CONFIG_HOME": empty_cwd},
            timeout=_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    try:
        reported = json.loads(completed.stdout or "null")
    except json.JSONDecodeError as error:
        raise ValidatorUnavailable(f"hadolint gave no JSON report: {completed.stderr.strip()}") from error
    if reported is None or (completed.returncode and not reported):
        raise ValidatorUnavailable(f"hadolint failed (exit {completed.returncode}): {completed.stderr.strip()}")
    return [
        Finding("hadolint", f"{dockerfile.name}:{item['line']}", f"{item['code']} ({item['level']}) {item['message']}")
        for item in reported
    ]


# --- promtool -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertCase:
    """A promtool unit test for one alert: series that must fire it and series that must not.

    `unhealthy` / `healthy` are promtool `input_series` entries (`{"series": ..., "values": ...}`) built from
    `app.contract.Metrics` names. At `eval_time` the alert must be firing on `unhealthy` with exactly
    `fired_labels` (plus the rule's own labels), and silent on `healthy`.
    """

    unhealthy: tuple[Mapping[str, str], ...]
    healthy: tuple[Mapping[str, str], ...]
    eval_time: str = "30m"
    fired_labels: Mapping[str, str] = field(default_factory=dict)
    interval: str = "1m"


@dataclass(frozen=True)
class RuleFile:
    """The rule groups of one PrometheusRule, as the standalone rules file promtool reads."""

    subject: str
    groups: list[dict[str, Any]]

    @property
    def alerts(self) -> dict[str, dict[str, Any]]:
        return {rule["alert"]: rule for group in self.groups for rule in group.get("rules", []) if "alert" in rule}


def rule_files(manifests: Iterable[Manifest]) -> list[RuleFile]:
    return [
        RuleFile(m.subject, copy.deepcopy((m.body.get("spec") or {}).get("groups") or []))
        for m in manifests
        if m.kind == "PrometheusRule"
    ]


def check_prometheus_rules(manifests: Iterable[Manifest], cases: Mapping[str, AlertCase]) -> list[Finding]:
    """`promtool check rules` on every PrometheusRule, and `promtool test rules` with a case for every alert.

    Each alert must have a case in `cases` (and each case an alert); the case's unhealthy series must fire it
    and its healthy series must not. Annotations are left out of the unit-test copy of the rules (promtool
    would demand their exact rendered text); `check rules` still parses their templates.
    """
    promtool = find_tool("promtool")
    files = rule_files(manifests)
    if not files:
        raise ValidatorUnavailable("no PrometheusRule to check")
    findings = []
    all_alerts: set[str] = set()
    with tempfile.TemporaryDirectory() as work:
        for index, rule_file in enumerate(files):
            all_alerts.update(rule_file.alerts)
            rules_path = Path(work, f"rules-{index}.yaml")
            rules_path.write_text(yaml.safe_dump({"groups": rule_file.groups}, sort_keys=False))
            checked = _run([promtool, "check", "rules", str(rules_path)])
            if checked.returncode:
                findings.append(Finding("promtool check rules", rule_file.subject, _promtool_output(checked, work)))
                continue
            test_rules_path = Path(work, f"rules-{index}-without-annotations.yaml")
            test_rules_path.write_text(yaml.safe_dump({"groups": _without_annotations(rule_file.groups)}))
            for alert, rule in rule_file.alerts.items():
                subject = f"{rule_file.subject} alert {alert}"
                case = cases.get(alert)
                if case is None:
                    findings.append(Finding("promtool test rules", subject, "no unit test (add an AlertCase)"))
                    continue
                test_path = Path(work, f"{alert}.test.yaml")
                test_path.write_text(yaml.safe_dump(_unit_test(test_rules_path, alert, rule, case), sort_keys=False))
                tested = _run([promtool, "test", "rules", str(test_path)])
                if tested.returncode:
                    findings.append(Finding("promtool test rules", subject, _promtool_output(tested, work)))
    for stale in sorted(set(cases) - all_alerts):
        findings.append(Finding("promtool test rules", f"alert {stale}", "has a unit test but no such alert exists"))
    return findings


def _without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**group, "rules": [{k: v for k, v in rule.items() if k != "annotations"} for rule in group.get("rules", [])]}
        for group in groups
    ]


def _unit_test(rules_path: Path, alert: str, rule: Mapping[str, Any], case: AlertCase) -> dict[str, Any]:
    expected_labels = {**(rule.get("labels") or {}), **case.fired_labels}
    return {
        "rule_files": [rules_path.name],
        "evaluation_interval": case.interval,
        "tests": [
            {
                "interval": case.interval,
                "input_series": [dict(s) for s in case.unhealthy],
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": alert, "exp_alerts": [{"exp_labels": expected_labels}]}
                ],
            },
            {
                "interval": case.interval,
                "input_series": [dict(s) for s in case.healthy],
                "alert_rule_test": [{"eval_time": case.eval_time, "alertname": alert, "exp_alerts": []}],
            },
        ],
    }


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=_TOOL_TIMEOUT_SECONDS,
        check=False,
        cwd=Path(command[-1]).parent,
    )


def _promtool_output(completed: subprocess.CompletedProcess, work_dir: str) -> str:
    text = f"{completed.stdout}\n{completed.stderr}".replace(work_dir + "/", "")
    return re.sub(r"\n\s*\n", "\n", text).strip()


# --- the whole gate -------------------------------------------------------------------------------------------------


def validate_render(
    render_dir: Path,
    alert_cases_for: Callable[[list[Manifest]], Mapping[str, AlertCase]],
    dockerfile: Path | None = None,
    crd_dir: Path | None = None,
) -> list[Finding]:
    """Every validator over one rendered stack (and the Dockerfile, if given).

    promtool runs when the render holds a PrometheusRule; `alert_cases_for(manifests)` gives its unit tests.
    """
    manifests = load_manifests(render_dir)
    crds = CustomResourceSchemas.from_directory(crd_dir)
    findings = [
        *check_builtin_schemas(manifests, custom_groups=crds.groups),
        *crds.check(manifests),
        *run_checkov(Path(render_dir), "kubernetes"),
    ]
    if rule_files(manifests):
        findings += check_prometheus_rules(manifests, alert_cases_for(manifests))
    if dockerfile is not None:
        findings += [*run_hadolint(dockerfile), *run_checkov(dockerfile, "dockerfile")]
    return findings


def main(argv: list[str] | None = None) -> int:
    from tools.alert_cases import alert_cases, scrape_target

    parser = argparse.ArgumentParser(prog="python -m tools.validators", description=__doc__.splitlines()[0])
    parser.add_argument("render_dir", type=Path, help="a directory written by `python -m infra.render`")
    parser.add_argument("--dockerfile", type=Path, help="also lint this Dockerfile (hadolint, checkov)")
    args = parser.parse_args(argv)
    try:
        findings = validate_render(args.render_dir, lambda m: alert_cases(scrape_target(m)), args.dockerfile)
        if not rule_files(load_manifests(args.render_dir)):
            print(f"note: no PrometheusRule in {args.render_dir}, so promtool had nothing to check", file=sys.stderr)
    except (ValidatorUnavailable, pinned_schemas.SchemasUnavailable) as error:
        print(f"validator could not run: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {args.render_dir}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
