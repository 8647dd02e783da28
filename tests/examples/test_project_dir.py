"""Any Pulumi project directory runs under the mocks and renders: `python -m infra.render <stack> --project DIR`."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from infra import mocks, render

EXAMPLE = mocks.PROJECT_ROOT / "examples" / "reuse"

PROGRAM = """
import pulumi

config = pulumi.Config()
pulumi.export("project", pulumi.get_project())
pulumi.export("greeting", config.require("greeting"))
pulumi.export("limits", config.require_object("limits"))
pulumi.export("other", pulumi.Config("elsewhere").require("key"))
"""


def _project(root: Path, pulumi_yaml: str | None, stack_yaml: str, program: str = PROGRAM) -> Path:
    root.mkdir(parents=True)
    if pulumi_yaml is not None:
        (root / "Pulumi.yaml").write_text(textwrap.dedent(pulumi_yaml))
    (root / "Pulumi.dev.yaml").write_text(textwrap.dedent(stack_yaml))
    (root / "__main__.py").write_text(program)
    return root


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.render", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(mocks.PROJECT_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_root_project_is_named_by_its_pulumi_yaml():
    assert mocks.project_name() == yaml.safe_load((mocks.PROJECT_ROOT / "Pulumi.yaml").read_text())["name"]


def test_bare_config_keys_and_the_program_get_the_projects_own_name(tmp_path):
    root = _project(
        tmp_path / "checkout",
        "name: billing-agent\nruntime: python\n",
        """
        config:
          greeting: hello
          billing-agent:limits: {cpu: 2}
          elsewhere:key: kept
        """,
    )
    run = mocks.run_stack("dev", root=root, overrides={"greeting": "overridden"})
    assert run.stack_outputs == {
        "project": "billing-agent",
        "greeting": "overridden",
        "limits": {"cpu": 2},
        "other": "kept",
    }
    assert mocks.stack_config("dev", root) == {
        "billing-agent:greeting": "hello",
        "billing-agent:limits": '{"cpu": 2}',
        "elsewhere:key": "kept",
    }


def test_a_directory_without_a_project_file_is_named_after_the_directory(tmp_path):
    root = _project(tmp_path / "scratch", None, "config:\n  greeting: hi\n  scratch:limits: {}\n  elsewhere:key: k\n")
    assert mocks.run_stack("dev", root=root).stack_outputs["project"] == "scratch"


def test_a_project_file_without_a_name_is_an_error_naming_the_file(tmp_path):
    root = _project(tmp_path / "unnamed", "runtime: python\n", "config: {}\n")
    completed = _cli("dev", "--project", str(root), cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stderr == f"error: {root / 'Pulumi.yaml'} has no project 'name' (got None)\n"
    assert not (root / "rendered").exists()


def test_a_missing_project_directory_is_named(tmp_path):
    completed = _cli("dev", "--project", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stderr == f"error: no Pulumi project directory at {tmp_path / 'nowhere'}\n"


def test_render_cli_renders_another_project_into_its_own_directory(tmp_path):
    project = tmp_path / "reuse"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("venv", "rendered", "__pycache__"))
    completed = _cli("dev", "--project", str(project), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    out = project / "rendered" / "dev"
    index = yaml.safe_load((out / render.INDEX_FILE).read_text())
    assert index["stack"] == "dev"
    assert {o["kind"] for o in index["objects"]} >= {"Namespace", "Deployment", "StatefulSet", "HTTPRoute"}
    assert {o.get("namespace", o["name"]) for o in index["objects"]} == {"support-agent"}
    objects = len(index["objects"])
    assert completed.stdout == f"rendered {objects} objects of stack 'dev' to {out}/ (see {out}/index.yaml)\n"
    assert render.render_stack("dev", project) == {p.name: p.read_text() for p in out.iterdir()}
