"""The e2e fails, naming the workload and the failure, when a rendered pod spec is wrong.

Each test breaks one thing in a freshly rendered stack and runs the e2e until the first failing workload, on
images built once for the session. Run by `make e2e` (they need podman; without it they fail, never skip).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import runner
from tests.e2e.podman import INSTALL_HINT, missing_tools

PATIENCE = 30.0
"""Seconds a broken probe is given; a correct one passes in a few (the manifests allow minutes)."""
OLD_PROBE = ["pg_isready", "-h", "127.0.0.1", "-p", "5432"]


@pytest.fixture(scope="session")
def built() -> Iterator[tuple[runner.Images, Path]]:
    if missing_tools():
        pytest.fail(f"missing {', '.join(missing_tools())}: {INSTALL_HINT}")
    lines: list[str] = []
    with runner.session(log=lines.append) as resources:
        yield resources


@pytest.fixture(scope="session")
def dev() -> runner.Render:
    return runner.load_render("dev")


def run_broken(built, stack_render: runner.Render, stop_after: str, tmp_path: Path) -> tuple[str, list[str]]:
    images, _ = built
    lines: list[str] = []
    with pytest.raises(runner.E2EError) as failure:
        runner.run_stack(stack_render, images, tmp_path, patience=PATIENCE, stop_after=stop_after, log=lines.append)
    return str(failure.value), lines


def postgres_pod(stack_render: runner.Render) -> dict:
    return runner.pod_template(stack_render.workload("StatefulSet", "postgres"))["spec"]


def test_the_rendered_statefulset_runs(built, dev, tmp_path: Path) -> None:
    """The control for the mutations below: the unchanged Postgres StatefulSet passes its probes."""
    images, _ = built
    lines: list[str] = []
    runner.run_stack(dev, images, tmp_path, patience=120, stop_after="StatefulSet", log=lines.append)
    assert any("statefulset/langgraph-db-postgres (container postgres): started and ready" in line for line in lines)


def test_the_old_postgres_probe_fails(built, dev, tmp_path: Path) -> None:
    """Without -U, libpq looks the uid up in /etc/passwd, finds nothing and makes no attempt (exit 3)."""

    def old_probe(stack_render: runner.Render) -> None:
        container = postgres_pod(stack_render)["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            container[probe]["exec"]["command"] = list(OLD_PROBE)

    message, _ = run_broken(built, runner.mutated(dev, old_probe), "StatefulSet", tmp_path)
    assert "statefulset/langgraph-db-postgres (container postgres)" in message
    assert "startup probe exec" in message and "exit 3" in message


def test_a_missing_tmp_volume_fails(built, dev, tmp_path: Path) -> None:
    """The read-only root filesystem leaves /tmp unwritable without its emptyDir; initdb's entrypoint needs it."""

    def drop_tmp(stack_render: runner.Render) -> None:
        spec = postgres_pod(stack_render)
        container = spec["containers"][0]
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["mountPath"] != "/tmp"]
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "tmp"]

    message, _ = run_broken(built, runner.mutated(dev, drop_tmp), "StatefulSet", tmp_path)
    assert "statefulset/langgraph-db-postgres (container postgres): exited with code" in message
    assert "Read-only file system" in message


def test_a_data_volume_the_uid_cannot_write_fails(built, dev, tmp_path: Path) -> None:
    """Without fsGroup the claim stays root-owned and the database's uid cannot create its data directory."""

    def no_fs_group(stack_render: runner.Render) -> None:
        del postgres_pod(stack_render)["securityContext"]["fsGroup"]

    message, _ = run_broken(built, runner.mutated(dev, no_fs_group), "StatefulSet", tmp_path)
    assert "statefulset/langgraph-db-postgres (container postgres): exited with code" in message
    assert "Permission denied" in message


def test_a_wrong_probe_path_fails(built, dev, tmp_path: Path) -> None:
    """A startup probe on a path the server does not serve never passes: 404."""

    def wrong_path(stack_render: runner.Render) -> None:
        server = runner.pod_template(stack_render.workload("Deployment", "server"))["spec"]["containers"][0]
        server["startupProbe"]["httpGet"]["path"] = "/healthz"

    message, _ = run_broken(built, runner.mutated(dev, wrong_path), "Deployment", tmp_path)
    assert "deployment/langgraph-server-deployment-mock (container server)" in message
    assert "startup probe httpGet :http/healthz" in message and "HTTP 404" in message
