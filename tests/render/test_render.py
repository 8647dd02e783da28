"""The offline render: committed snapshots, determinism, redaction, numbers, and errors that write nothing."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import mocks, render
from infra.config import StackConfigError, parse_stack_config
from tests.render.conftest import STACKS
from tests.tokens import Token

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_COMMAND = "make snapshots"


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_the_committed_snapshot(stack, rendered):
    expected_dir, actual_dir = SNAPSHOTS / stack, rendered[stack]
    expected = {p.name: p.read_text() for p in sorted(expected_dir.glob("*.yaml"))}
    actual = {p.name: p.read_text() for p in sorted(actual_dir.glob("*.yaml"))}
    diff = "".join(
        line
        for name in sorted(expected.keys() | actual.keys())
        for line in difflib.unified_diff(
            expected.get(name, "").splitlines(keepends=True),
            actual.get(name, "").splitlines(keepends=True),
            f"snapshots/{stack}/{name}",
            f"rendered/{stack}/{name}",
        )
    )
    assert not diff, f"the {stack} render changed; review the diff, then run `{UPDATE_COMMAND}`:\n{diff}"


def test_render_is_deterministic():
    assert render.render_stack("prod") == render.render_stack("prod")


def test_one_file_per_object_named_by_kind_and_name_listed_in_the_index(rendered):
    index = yaml.safe_load((rendered["prod"] / render.INDEX_FILE).read_text())
    files = sorted(p.name for p in rendered["prod"].glob("*.yaml") if p.name != render.INDEX_FILE)
    assert [entry["file"] for entry in index["objects"]] == files
    for entry in index["objects"]:
        body = yaml.safe_load((rendered["prod"] / entry["file"]).read_text())
        assert (body["kind"], body["metadata"]["name"]) == (entry["kind"], entry["name"])
        assert entry["file"] == f"{entry['kind']}-{entry['name']}.yaml".lower()
    assert {"Deployment", "PrometheusRule", "HTTPRoute", "Secret"} <= {e["kind"] for e in index["objects"]}
    assert {"type": Token.DOCKER_IMAGE, "name": "langgraph-image-build"} in index["otherResources"]


def _scalars(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    else:
        yield value


@pytest.mark.parametrize("stack", STACKS)
def test_integers_stay_integers(stack, rendered):
    deployment = yaml.safe_load(next(rendered[stack].glob("deployment-*.yaml")).read_text())
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert type(port) is int
    floats = [
        (path.name, v)
        for path in rendered[stack].glob("*.yaml")
        for v in _scalars(yaml.safe_load(path.read_text()))
        if isinstance(v, float)
    ]
    assert floats == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_generated_secret_value_is_written(stack, rendered):
    run = mocks.run_stack(stack)
    passwords = [r for r in run.resources if r.type == Token.RANDOM_PASSWORD]
    assert passwords and all(mocks.reveal(r.outputs["result"]).startswith(mocks.MOCK_PASSWORD) for r in passwords)
    texts = {p.name: p.read_text() for p in rendered[stack].glob("*.yaml")}
    assert [name for name, text in texts.items() if mocks.MOCK_PASSWORD in text] == []
    secrets = [yaml.safe_load(t) for t in texts.values() if t.split("\nkind: ", 1)[-1].startswith("Secret\n")]
    assert secrets
    for secret in secrets:
        values = {**secret.get("data", {}), **secret.get("stringData", {})}
        assert values and set(values.values()) == {render.REDACTED}, secret["metadata"]["name"]


def test_pulumi_secrets_outside_secret_objects_are_redacted_in_place(tmp_path):
    root = _project(
        tmp_path,
        """
import pulumi
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("settings", metadata={"name": "settings"}, data={"token": pulumi.Output.secret("s3cr3t-value"),
                                                                        "level": "INFO"})
""",
    )
    [text] = [t for name, t in render.render_stack("dev", root).items() if name != render.INDEX_FILE]
    assert "s3cr3t-value" not in text
    assert yaml.safe_load(text)["data"] == {"level": "INFO", "token": render.REDACTED}


def test_make_render_cli_writes_the_stack(tmp_path):
    out = tmp_path / "prod"
    completed = _cli("prod", "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    assert (out / render.INDEX_FILE).is_file()
    assert not any(mocks.MOCK_PASSWORD in p.read_text() for p in out.iterdir())


def test_unknown_stack_names_the_stacks_and_writes_nothing(tmp_path):
    completed = _cli("staging", "--out", str(tmp_path / "out"))
    assert completed.returncode == 1
    assert completed.stderr.strip() == "error: no stack named 'staging' found (stacks: dev, prod)"
    assert not (tmp_path / "out").exists()


def test_invalid_config_gives_the_programs_error_and_writes_nothing(tmp_path, monkeypatch, capsys):
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(mocks.PROJECT_ROOT / "__main__.py", root)
    (root / "Pulumi.bad.yaml").write_text(
        "config:\n  langgraph-k8s:namespace: kube-system\n  langgraph-k8s:replicas: 0\n"
    )
    monkeypatch.setattr(mocks, "PROJECT_ROOT", root)
    out = tmp_path / "out"
    out.mkdir()
    (out / render.INDEX_FILE).write_text("previous render\n")

    assert render.main(["bad", "--out", str(out)]) == 1

    with pytest.raises(StackConfigError) as expected:
        parse_stack_config("bad", {"namespace": "kube-system", "replicas": "0"})  # the engine hands scalars as text
    assert capsys.readouterr().err == f"error: {expected.value}\n"
    assert [p.name for p in out.iterdir()] == [render.INDEX_FILE]
    assert (out / render.INDEX_FILE).read_text() == "previous render\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging dir left behind


def test_refuses_to_replace_a_directory_that_is_not_a_render(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(render.RenderError, match="refusing to replace"):
        render.write_render({"index.yaml": "x"}, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_rerender_replaces_stale_files(tmp_path):
    out = tmp_path / "dev"
    render.write_render({"index.yaml": "old", "deployment-gone.yaml": "old"}, out)
    render.write_render({"index.yaml": "new"}, out)
    assert {p.name: p.read_text() for p in out.iterdir()} == {"index.yaml": "new"}


def _project(tmp_path: Path, program: str) -> Path:
    (tmp_path / "__main__.py").write_text(program)
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    return tmp_path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.render", *args],
        cwd=mocks.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
