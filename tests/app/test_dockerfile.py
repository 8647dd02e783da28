"""The server image: non-root with the contract's numeric ids, exec-form commands (hadolint runs in the render gate)."""

from __future__ import annotations

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
