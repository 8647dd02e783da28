"""The pod-spec translator and the runner's refusal to run without podman (no containers needed)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import podspec
from tests.e2e.podman import INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]


def pod(tmp_path: Path, spec: dict) -> podspec.Pod:
    return podspec.Pod(name="p", spec=spec, work_dir=tmp_path / "pod", claims_dir=tmp_path / "claims")


OBJECTS = podspec.Objects(
    namespace="ns",
    config_maps={"cfg": {"PORT": "8000", "HOST": "0.0.0.0"}},
    secrets={"creds": {"PASSWORD": "s3cret", "USER": "agent"}},
    claims={"backups"},
    services=[{"metadata": {"name": "db-postgres"}, "spec": {"ports": [{"name": "postgres", "port": 5432}]}}],
)


def test_env_resolves_config_maps_secrets_and_expansions(tmp_path: Path) -> None:
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "creds"}, "prefix": "DB_"}],
        "env": [
            {"name": "URL", "value": "http://$(HOST):$(PORT)/$$(literal)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
    }
    env = podspec.container_env(pod(tmp_path, {}), container, OBJECTS)
    assert env["DB_PASSWORD"] == "s3cret" and env["PORT"] == "8000"
    assert env["URL"] == "http://0.0.0.0:8000/$(literal)"
    assert env["POD"] == "ns"
    assert env["DB_POSTGRES_SERVICE_HOST"] == "127.0.0.1" and env["DB_POSTGRES_SERVICE_PORT_POSTGRES"] == "5432"
    assert env["DB_POSTGRES_PORT"] == env["DB_POSTGRES_PORT_5432_TCP"] == "tcp://127.0.0.1:5432"
    links_off = podspec.container_env(pod(tmp_path, {"enableServiceLinks": False}), container, OBJECTS)
    assert not any(name.startswith("DB_POSTGRES_") for name in links_off)


def test_a_missing_secret_key_is_named(tmp_path: Path) -> None:
    container = {"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}}]}
    with pytest.raises(podspec.SpecError, match="secret 'creds' has no key 'TOKEN'"):
        podspec.container_env(pod(tmp_path, {}), container, OBJECTS)


def test_secret_volume_files_have_their_mode_and_the_fs_group(tmp_path: Path) -> None:
    spec = {
        "securityContext": {"fsGroup": 4242},
        "volumes": [{"name": "pw", "secret": {"secretName": "creds", "defaultMode": 0o440}}],
    }
    container = {"name": "c", "volumeMounts": [{"name": "pw", "mountPath": "/run/pw"}]}
    (mount,) = podspec.volume_mounts(pod(tmp_path, spec), container, OBJECTS)
    host = Path(mount.split("=", 1)[1].split(":", 1)[0])
    assert mount.endswith(":/run/pw:ro")
    password = (host / "PASSWORD").stat()
    assert stat.S_IMODE(password.st_mode) == 0o440 and password.st_gid == 4242
    assert (host / "PASSWORD").read_text() == "s3cret"


def test_a_claim_is_root_owned_until_fs_group_gives_it_to_the_pod(tmp_path: Path) -> None:
    volumes = [{"name": "b", "persistentVolumeClaim": {"claimName": "backups"}}]
    container = {"name": "c", "volumeMounts": [{"name": "b", "mountPath": "/backups"}]}
    podspec.volume_mounts(pod(tmp_path, {"volumes": volumes}), container, OBJECTS)
    claim = (tmp_path / "claims" / "backups").stat()
    assert (claim.st_uid, claim.st_gid, stat.S_IMODE(claim.st_mode)) == (0, 0, 0o755)
    spec = {"volumes": volumes, "securityContext": {"fsGroup": 10001}}
    podspec.volume_mounts(pod(tmp_path, spec), container, OBJECTS)
    claim = (tmp_path / "claims" / "backups").stat()
    assert claim.st_gid == 10001 and stat.S_IMODE(claim.st_mode) == 0o2775


def test_unsupported_volume_types_are_refused(tmp_path: Path) -> None:
    spec = {"volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]}
    container = {"name": "c", "volumeMounts": [{"name": "h", "mountPath": "/h"}]}
    with pytest.raises(podspec.SpecError, match=r"volume 'h': unsupported volume type \['hostPath'\]"):
        podspec.volume_mounts(pod(tmp_path, spec), container, OBJECTS)


def test_security_context_becomes_podman_flags(tmp_path: Path) -> None:
    spec = {"securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "runAsNonRoot": True}}
    container = {
        "name": "c",
        "image": "x",
        "command": ["python", "-m", "app.migrate"],
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}},
    }
    args = podspec.create_args(pod(tmp_path, spec), container, OBJECTS, "img", "", "node", "name")
    for flag in (
        "--user=10001:10001",
        "--group-add=10001",
        "--read-only",
        "--read-only-tmpfs=false",
        "--passwd=false",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--memory={512 * 2**20}",
        "--cpus=0.5",
        '--entrypoint=["python", "-m", "app.migrate"]',
    ):
        assert flag in args
    assert args[-1] == "img"


def test_run_as_non_root_refuses_a_root_image(tmp_path: Path) -> None:
    spec = {"securityContext": {"runAsNonRoot": True}}
    with pytest.raises(podspec.SpecError, match="would run as root"):
        podspec.create_args(pod(tmp_path, spec), {"name": "c"}, OBJECTS, "img", "", "node", "name")


def test_without_podman_the_e2e_fails_and_says_what_to_install(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e", "--stack", "dev"],
        cwd=ROOT,
        env={**os.environ, "PATH": str(bare)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "missing podman" in result.stdout and INSTALL_HINT in result.stdout
