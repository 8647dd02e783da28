"""The README's config reference is generated from the models and cannot drift from them."""

import re

import yaml

from infra.config import PROJECT
from infra.config_reference import README, leaf_keys, readme_block, render_table


def test_readme_config_reference_is_current() -> None:
    assert readme_block(README.read_text()) == render_table(), (
        "README.md's config reference is stale: run `python -m infra.config_reference --write`"
    )


def test_every_config_key_is_in_the_readme_and_every_documented_key_exists() -> None:
    block = readme_block(README.read_text())
    documented = set(re.findall(r"^\| `([^`]+)`", block, flags=re.MULTILINE))
    model_keys = {path for path, _, _ in leaf_keys()}
    assert model_keys <= documented
    assert {key for key in documented if not key.endswith("(secret)")} - model_keys <= {"databaseUrl", "providerKeys"}


def test_stack_files_use_only_documented_keys() -> None:
    model_keys = {path for path, _, _ in leaf_keys()}
    for stack_file in README.parent.glob("Pulumi.*.yaml"):
        for key, value in yaml.safe_load(stack_file.read_text())["config"].items():
            paths = _paths(key.removeprefix(f"{PROJECT}:"), value, model_keys)
            assert paths <= model_keys, f"{stack_file.name}: {sorted(paths - model_keys)} not in the README reference"


def _paths(prefix: str, value: object, leaves: set[str]) -> set[str]:
    """Dotted key paths of a stack value; a map-typed key (e.g. `observability.ruleLabels`) is one leaf."""
    if isinstance(value, dict) and prefix not in leaves:
        return {path for key, inner in value.items() for path in _paths(f"{prefix}.{key}", inner, leaves)}
    return {prefix}
