"""GitHub Actions workflows: schema-valid, pinned, and wired the way docs/delivery.md says.

Every file in `.github/workflows/` is validated with check-jsonschema's vendored GitHub workflow
schema; the structural tests pin down what the schema cannot: both stacks previewed, prod deployed
through a protected environment, drift detected, actions pinned to immutable versions. The render
diff script is run for real against a throwaway git repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE = "./.github/workflows/pulumi.yml"
STACKS = ["dev", "prod"]
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

# `uses: owner/repo[/path]@<40-hex sha> # vX.Y.Z` or `@vX.Y.Z`; never a branch or a major tag.
PINNED = re.compile(r"@(?:[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+|v\d+\.\d+\.\d+)\s*$")


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as boolean True (YAML 1.1); map it back.
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    if not CHECK_JSONSCHEMA.exists():
        pytest.fail(f"check-jsonschema is not installed next to {sys.executable} (requirements-dev.txt pins it)")
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def pulumi_step() -> dict:
    steps = load("pulumi.yml")["jobs"]["pulumi"]["steps"]
    (step,) = [
        step for step in steps if step.get("uses", "").startswith("pulumi/actions@") and "command" in step["with"]
    ]
    return step


def test_expected_workflows_exist():
    names = {path.name for path in workflow_files()}
    assert {"test.yml", "preview.yml", "deploy.yml", "drift.yml", "pulumi.yml"} <= names


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_workflow_validates_against_the_github_schema(path: Path):
    result = check_jsonschema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: pull_request\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    result = check_jsonschema(broken)
    assert result.returncode != 0
    assert "broken.yml" in result.stdout + result.stderr


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_or_exact_release(path: Path):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = re.search(r"\buses:\s*(\S+)(.*)$", line)
        if not match or match.group(1).startswith("./"):
            continue
        assert PINNED.search(match.group(1) + match.group(2)), f"{path.name}:{number}: unpinned action: {line.strip()}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_permissions_are_least_privilege(path: Path):
    workflow = load(path.name)
    if "workflow_call" in workflow["on"] and len(workflow["on"]) == 1:
        # A called workflow runs with its caller's job permissions.
        assert "permissions" not in workflow["jobs"]["pulumi"]
        return
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        if "write" in granted.values():
            assert granted.get("contents") == "read", f"{path.name}: job {name} widens contents"


def test_tests_run_make_test_on_every_pull_request_and_push():
    workflow = load("test.yml")
    assert {"pull_request", "push", "workflow_call"} <= set(workflow["on"])
    assert workflow["on"]["push"] == {"branches-ignore": ["main"]}
    assert load("deploy.yml")["jobs"]["tests"]["uses"] == "./.github/workflows/test.yml"
    runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert "make test" in runs


def test_tests_get_the_schemas_from_the_make_target_not_outside_the_checkout():
    steps = load("test.yml")["jobs"]["test"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert runs.index("make schemas") < runs.index("make test")
    assert not any("curl" in run or "../shared" in run for run in runs)


def test_reusable_pulumi_job_runs_the_stack_in_its_environment():
    workflow = load("pulumi.yml")
    assert set(workflow["on"]) == {"workflow_call"}
    job = workflow["jobs"]["pulumi"]
    assert job["environment"] == {"name": "${{ inputs.environment }}"}
    step = pulumi_step()["with"]
    assert step["command"] == "${{ inputs.command }}"
    assert step["diff"] is True
    assert step["comment-on-summary"] is True
    assert step["comment-on-pr"] == "${{ inputs.comment-on-pr }}"
    assert step["refresh"] == "${{ inputs.refresh }}"
    assert step["expect-no-changes"] == "${{ inputs.expect-no-changes }}"
    # The CLI version comes from the SDK pin, and credentials from OIDC or the token secret.
    assert step["pulumi-version"] == "${{ steps.pulumi-version.outputs.version }}"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(use.startswith("pulumi/auth-actions@") for use in uses)
    assert "pulumi install" in [step.get("run") for step in job["steps"]]
    assert any("KUBECONFIG" in step.get("env", {}).get("KUBECONFIG_CONTENT", "") for step in job["steps"])


def test_preview_covers_both_stacks_on_pull_requests():
    workflow = load("preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    preview = workflow["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == STACKS
    assert preview["uses"] == REUSABLE
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["stack"] == "${{ matrix.stack }}"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"
    render = workflow["jobs"]["render-diff"]
    assert render["strategy"]["matrix"]["stack"] == STACKS
    uses = [step.get("uses", "") for step in render["steps"]]
    assert any(use.startswith("actions/upload-artifact@") for use in uses)


def evaluate(value, variables: dict[str, str]):
    """A workflow value with `${{ vars.X == 'v' && A || B }}` (and `fromJSON(...)` of it) resolved for `variables`."""
    if not isinstance(value, str):
        return value
    match = re.fullmatch(r"\$\{\{\s*(fromJSON\()?vars\.(\w+) == '([^']*)' && '([^']*)' \|\| '([^']*)'\)?\s*\}\}", value)
    if not match:
        assert "${{ vars." not in value, f"expression the test cannot evaluate: {value}"
        return value
    from_json, name, expected, then, otherwise = match.groups()
    chosen = then if variables.get(name) == expected else otherwise
    return yaml.safe_load(chosen) if from_json else chosen


def deployed_stacks(variables: dict[str, str]) -> dict[str, str]:
    """Stack to the environment `pulumi up` runs it in, for the Deploy workflow under these repository variables."""
    jobs = load("deploy.yml")["jobs"]
    return {
        job["with"]["stack"]: evaluate(job["with"]["environment"], variables)
        for job in jobs.values()
        if job.get("uses") == REUSABLE and evaluate(job["with"]["command"], variables) == "up"
    }


def test_deploy_runs_up_only_on_stacks_meant_for_a_shared_cluster():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert deployed_stacks({}) == {"prod": "prod"}
    jobs = workflow["jobs"]
    assert jobs["up-prod"]["needs"] == "tests"  # not on dev, which may be a laptop stack that never becomes ready
    for job in jobs.values():
        if job.get("uses") == REUSABLE:
            stack = job["with"]["stack"]
            assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}


def test_dev_is_previewed_with_read_only_credentials_unless_configured_to_deploy():
    dev = load("deploy.yml")["jobs"]["dev"]
    assert evaluate(dev["with"]["command"], {}) == "preview"
    assert evaluate(dev["with"]["environment"], {}) == "dev-preview"
    assert deployed_stacks({"DEPLOY_DEV": "true"}) == {"dev": "dev", "prod": "prod"}
    assert deployed_stacks({"DEPLOY_DEV": "yes"}) == {"prod": "prod"}


def test_drift_check_refreshes_and_expects_no_changes_on_a_schedule():
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"]
    job = workflow["jobs"]["drift"]
    assert evaluate(job["strategy"]["matrix"]["stack"], {}) == ["prod"]
    assert evaluate(job["strategy"]["matrix"]["stack"], {"DEPLOY_DEV": "true"}) == STACKS
    assert job["uses"] == REUSABLE
    assert job["with"]["command"] == "preview"
    assert job["with"]["refresh"] is True
    assert job["with"]["expect-no-changes"] is True


# --- the render diff step, run against a throwaway repository ---------------------------------

FAKE_RENDER = """\
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("stack")
parser.add_argument("--out", required=True)
args = parser.parse_args()
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "deployment.yaml").write_text("kind: Deployment\\nreplicas: {replicas}\\nstack: " + args.stack + "\\n")
"""


def render_diff_script() -> str:
    steps = load("preview.yml")["jobs"]["render-diff"]["steps"]
    (step,) = [step for step in steps if "infra.render" in step.get("run", "")]
    return step["run"]


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def pull_request_repo(tmp_path: Path, base_replicas: int | None, head_replicas: int) -> Path:
    """A repository checked out at a merge commit whose first parent is the base branch."""
    repo = tmp_path / "repo"
    (repo / "infra").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "infra" / "__init__.py").write_text("")
    if base_replicas is not None:
        (repo / "infra" / "render.py").write_text(FAKE_RENDER.format(replicas=base_replicas))
    (repo / "README").write_text("base\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "infra" / "render.py").write_text(FAKE_RENDER.format(replicas=head_replicas))
    (repo / "README").write_text("feature\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    return repo


def run_render_diff(repo: Path, tmp_path: Path) -> tuple[str, str]:
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary),
        "STACK": "dev",
        "LIMIT": "60000",
    }
    # The shell GitHub runs `run:` steps with.
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", render_diff_script()],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return (runner_temp / "render" / "comment.md").read_text(), summary.read_text()


def test_render_diff_shows_changed_objects(tmp_path: Path):
    comment, summary = run_render_diff(pull_request_repo(tmp_path, base_replicas=2, head_replicas=3), tmp_path)
    assert "1 object file(s) differ" in comment
    assert "-replicas: 2" in comment
    assert "+replicas: 3" in comment
    assert "no working offline render" not in comment
    assert summary == comment


def test_render_diff_without_a_base_render_shows_everything_as_added(tmp_path: Path):
    comment, _ = run_render_diff(pull_request_repo(tmp_path, base_replicas=None, head_replicas=3), tmp_path)
    assert "The base branch has no working offline render of `dev`" in comment
    assert "+kind: Deployment" in comment


def test_render_diff_reports_no_change(tmp_path: Path):
    comment, _ = run_render_diff(pull_request_repo(tmp_path, base_replicas=3, head_replicas=3), tmp_path)
    assert "No change in the rendered manifests." in comment


def test_tests_run_the_container_e2e_with_podman():
    job = load("test.yml")["jobs"]["e2e"]
    runs = [step.get("run", "") for step in job["steps"]]
    install = next(run for run in runs if "apt-get install" in run)
    for package in ("podman", "runc", "catatonit", "containernetworking-plugins", "iptables", "mmdebstrap"):
        assert package in install
    assert any(run.endswith("make e2e") for run in runs)
