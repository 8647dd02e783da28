"""Each stack rendered once per session, for the snapshot and gate tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra import render
from infra.config import StackConfig, parse_stack_config

STACKS = tuple(render.available_stacks())


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stack name to a fresh render directory written by `infra.render`."""
    root = tmp_path_factory.mktemp("rendered")
    for stack in STACKS:
        render.write_render(render.render_stack(stack), root / stack)
    return {stack: root / stack for stack in STACKS}


def stack_config(stack: str) -> StackConfig:
    """The validated config of a committed stack file."""
    document = yaml.safe_load((render.mocks.PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    raw = {key.split(":", 1)[1]: value for key, value in document["config"].items()}
    return parse_stack_config(stack, raw)
