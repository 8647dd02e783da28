"""The server image: non-root with the contract's numeric ids, exec-form commands (hadolint runs in the render gate)."""

from __future__ import annotations

import re
from pathlib import Path

from app.contract import HEALTH_PATH, HTTP_PORT, RUN_AS_GROUP, RUN_AS_USER

DOCKERFILE = Path(__file__).resolve().parents[2] / "app" / "Dockerfile"


def test_runs_as_the_contract_user_with_exec_form_commands() -> None:
    text = DOCKERFILE.read_text()
    assert f"USER {RUN_AS_USER}:{RUN_AS_GROUP}" in text
    assert f"--uid {RUN_AS_USER} --gid {RUN_AS_GROUP}" in text
    assert f"EXPOSE {HTTP_PORT}" in text
    assert 'CMD ["python", "-m", "app"]' in text
    assert HEALTH_PATH in text and "curl" not in text


def test_base_image_is_one_argument_pinned_by_digest_for_both_stages() -> None:
    text = DOCKERFILE.read_text()
    assert not text.startswith("# syntax="), "an unpinned BuildKit frontend is pulled on every build"
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, flags=re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", default)
    assert re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_installs_the_hash_locked_requirements_compiles_bytecode_and_drops_pip() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY requirements.lock " in text and "--require-hashes" in text and "--no-deps" in text
    assert "pip uninstall --yes pip setuptools" in text
    assert "python -m compileall" in text.split("FROM ${BASE_IMAGE} AS runtime", 1)[1]
