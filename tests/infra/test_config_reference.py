"""docs/configuration.md is generated from the models and cannot drift from them."""

import re

import yaml

from infra.config import PROJECT, SECRET_KEYS
from infra.config_reference import DOCUMENT, WRITE_COMMAND, leaf_keys, render_document, secret_type

ROOT = DOCUMENT.parent.parent


def test_configuration_reference_is_current() -> None:
    assert DOCUMENT.read_text() == render_document(), f"{DOCUMENT.name} is stale: run `{WRITE_COMMAND}`"


def test_every_config_key_is_documented_and_every_documented_key_exists() -> None:
    block = DOCUMENT.read_text()
    documented = set(re.findall(r"^\| `([^`]+)`", block, flags=re.MULTILINE))
    model_keys = {path for path, _, _ in leaf_keys()}
    assert model_keys <= documented
    assert {key for key in documented if not key.endswith("(secret)")} - model_keys <= {"databaseUrl", "providerKeys"}


def test_stack_files_use_only_documented_keys() -> None:
    model_keys = {path for path, _, _ in leaf_keys()}
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        for key, value in yaml.safe_load(stack_file.read_text())["config"].items():
            paths = _paths(key.removeprefix(f"{PROJECT}:"), value, model_keys)
            assert paths <= model_keys, f"{stack_file.name}: {sorted(paths - model_keys)} not in the reference"


def _paths(prefix: str, value: object, leaves: set[str]) -> set[str]:
    """Dotted key paths of a stack value; a map-typed key (e.g. `observability.ruleLabels`) is one leaf."""
    if isinstance(value, dict) and prefix not in leaves:
        return {path for key, inner in value.items() for path in _paths(f"{prefix}.{key}", inner, leaves)}
    return {prefix}


def test_secret_keys_are_documented_with_the_type_they_hold() -> None:
    rows = {m[0]: m[1] for m in re.findall(r"^\| `(\w+)` \(secret\) \| ([^|]+) \|", DOCUMENT.read_text(), re.MULTILINE)}
    assert set(rows) == set(SECRET_KEYS)
    assert secret_type("providerKeys") == dict[str, str]
    assert rows["providerKeys"].strip() == "dict[str, str]"
    assert rows["databaseUrl"].strip() == "str"
    assert "--path 'providerKeys.<NAME>'" in DOCUMENT.read_text()
