"""The pinned upstream schemas: verified by sha256, downloaded only when right, and one clear line when missing."""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import schemas
from tools.schemas import PinnedFile

ROOT = schemas.PROJECT_ROOT


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server standing in for the upstream hosts; yields its base URL and the directory it serves."""
    served = tmp_path / "upstream"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def _pin(base: str, name: str, body: bytes) -> PinnedFile:
    return PinnedFile(f"crds/{name}", f"{base}/{name}", hashlib.sha256(body).hexdigest())


def test_every_pin_names_an_immutable_upstream_version():
    assert {file.path for file in schemas.PINNED} >= {schemas.PROJECT_SCHEMA}
    for file in schemas.PINNED:
        assert file.url.startswith("https://raw.githubusercontent.com/"), file.url
        ref = file.url.split("/")[5]
        assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{file.url} is not pinned to a tag or commit"
        assert len(file.sha256) == 64


def test_the_configured_copy_matches_every_recorded_sum(pinned_schema_dir):
    assert schemas.problems(pinned_schema_dir) == []


def test_a_missing_directory_is_one_line_naming_the_files_and_the_fix(tmp_path):
    with pytest.raises(schemas.SchemasUnavailable) as raised:
        schemas.require({schemas.SCHEMA_DIR_VARIABLE: str(tmp_path)})
    message = str(raised.value)
    assert "\n" not in message
    assert all(f"{file.path} missing" in message for file in schemas.PINNED)
    assert f"{schemas.SCHEMA_DIR_VARIABLE} must name a copy" in message


def test_an_empty_cache_says_to_run_make_schemas(tmp_path, monkeypatch):
    monkeypatch.setattr(schemas, "CACHE_DIR", tmp_path / "cache")
    with pytest.raises(schemas.SchemasUnavailable, match=r"run `make schemas` .* or set LANGGRAPH_K8S_SCHEMA_DIR"):
        schemas.require({})


def test_a_changed_file_is_named_with_both_sums(tmp_path):
    body = b"kind: CustomResourceDefinition\n"
    pin = PinnedFile("crds/x.yaml", "https://example.invalid/x.yaml", hashlib.sha256(body).hexdigest())
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "x.yaml").write_bytes(body + b"# edited\n")
    [problem] = schemas.problems(tmp_path, (pin,))
    assert problem.startswith("crds/x.yaml has sha256 ") and problem.endswith(f"expected {pin.sha256}")


def test_download_writes_verified_files_and_skips_those_already_there(upstream, tmp_path):
    base, served = upstream
    (served / "a.yaml").write_bytes(b"a: 1\n")
    pin = _pin(base, "a.yaml", b"a: 1\n")
    cache = tmp_path / "cache"
    assert schemas.download(cache, (pin,)) == ["crds/a.yaml"]
    assert (cache / "crds" / "a.yaml").read_bytes() == b"a: 1\n"
    assert schemas.download(cache, (pin,)) == []
    assert schemas.problems(cache, (pin,)) == []


def test_download_refuses_a_file_whose_sum_differs(upstream, tmp_path):
    base, served = upstream
    (served / "a.yaml").write_bytes(b"a: 2\n")
    pin = _pin(base, "a.yaml", b"a: 1\n")
    with pytest.raises(schemas.SchemasUnavailable, match=r"a\.yaml has sha256 .*; not written"):
        schemas.download(tmp_path / "cache", (pin,))
    assert not (tmp_path / "cache" / "crds" / "a.yaml").exists()


def test_download_without_network_says_to_set_the_variable(tmp_path):
    closed = PinnedFile("crds/a.yaml", "http://127.0.0.1:9/a.yaml", "0" * 64)
    with pytest.raises(schemas.SchemasUnavailable) as raised:
        schemas.download(tmp_path, (closed,))
    assert "\n" not in str(raised.value)
    assert f"offline, set {schemas.SCHEMA_DIR_VARIABLE}" in str(raised.value)


def test_make_test_gets_the_schemas_first(tmp_path):
    def dry_run(**variables: str) -> str:
        environ = {k: v for k, v in os.environ.items() if k != schemas.SCHEMA_DIR_VARIABLE}
        environ.update(variables)
        command = ["make", "-n", "test", f"SCHEMA_CACHE={tmp_path / 'cache'}"]
        return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, check=True).stdout

    download = dry_run()
    assert "python -m tools.schemas" in download
    assert download.index("tools.schemas") < download.index("pytest")
    assert "python -m tools.schemas" in dry_run(**{schemas.SCHEMA_DIR_VARIABLE: str(tmp_path)})


def test_make_schemas_with_an_empty_copy_fails_with_one_line(tmp_path):
    environ = {**os.environ, schemas.SCHEMA_DIR_VARIABLE: str(tmp_path)}
    completed = subprocess.run(["make", "-s", "schemas"], cwd=ROOT, env=environ, capture_output=True, text=True)
    assert completed.returncode != 0
    [line] = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert f"schemas in {tmp_path}: none of the {len(schemas.PINNED)} pinned files" not in line  # it exists, empty
    assert "crds/monitoring.coreos.com_prometheusrules.yaml missing" in line
    assert f"{schemas.SCHEMA_DIR_VARIABLE} must name a copy" in line


def test_a_session_without_schemas_stops_with_one_line(tmp_path):
    """What a fresh clone without `../shared` or network sees: not a failure per test, one line saying what to set."""
    environ = {**os.environ, schemas.SCHEMA_DIR_VARIABLE: str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/infra/test_platform.py", "tests/render/test_validators.py"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR, output
    mentions = [line for line in output.splitlines() if schemas.SCHEMA_DIR_VARIABLE in line]
    assert len(mentions) == 1, output
    assert "missing" in mentions[0] and "passed" not in output and "failed" not in output
