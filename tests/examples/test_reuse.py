"""examples/reuse: another Pulumi project using the components from the INSTALLED package, under mocks.

The wheel is built once per session from a copy of this checkout and pip-installed, with its declared
dependencies from the package index, into an empty virtualenv (versions constrained to this repository's pins
so the run is reproducible); nothing from the test interpreter's environment is visible there. A dependency
the components import but the wheel does not declare fails the example's run (tests/test_packaging.py names it).
The example's program runs inside that virtualenv (`run_example.py`).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from langgraph.checkpoint.memory import InMemorySaver

from app.server.registry import load_registry
from infra.mocks import MOCK_IMAGE_DIGEST, PROJECT_ROOT, is_secret, reveal
from tests.tokens import Token
from tools import schemas, validators

EXAMPLE = PROJECT_ROOT / "examples" / "reuse"
RUNNER = Path(__file__).with_name("run_example.py")
PACKAGE_FILES = ("pyproject.toml", "README.md", "src", "infra", "app")
PINS = (PROJECT_ROOT / "requirements.txt",)
STACK = "dev"
REPOSITORY = "registry.example.com/support/agent"
DIST = "langgraph_k8s"


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of this checkout (so the build leaves nothing in it)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in PACKAGE_FILES:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(PROJECT_ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root, source]
    completed = _run(command)
    assert completed.returncode == 0, completed.stderr[-4000:]
    [built] = root.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def installed_venv(wheel, tmp_path_factory) -> Path:
    """An empty virtualenv with the wheel and its declared dependencies installed by pip; returns its python."""
    root = tmp_path_factory.mktemp("reuse-venv")
    subprocess.run([sys.executable, "-m", "venv", root / "venv"], check=True)
    python = root / "venv" / "bin" / "python"
    constraints = [arg for pins in PINS for arg in ("-c", pins)]
    completed = _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, *constraints])
    assert completed.returncode == 0, completed.stderr[-4000:]
    return python


def test_wheel_ships_every_module_and_the_server_build_files_under_one_name(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{DIST}/__init__.py"}
    for package in ("infra", "app"):
        for path in (PROJECT_ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.add(f"{DIST}/{path.relative_to(PROJECT_ROOT).as_posix()}")
    assert expected <= names, sorted(expected - names)
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {DIST}


def test_installed_venv_has_only_what_the_wheel_declares(installed_venv):
    listed = _run([installed_venv, "-m", "pip", "list", "--format", "json"])
    names = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "langgraph-k8s" in names
    assert not names & {"pytest", "jsonschema", "fastapi", "langgraph"}, "dev or server packages leaked in"


def test_a_consumers_own_infra_and_app_folders_do_not_shadow_the_package(installed_venv, tmp_path):
    """A consumer project very often has its own `infra/` (and `app/`): they come first on the path here."""
    project = tmp_path / "consumer"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("venv", "rendered", "__pycache__"))
    for decoy in ("infra", "app"):
        (project / decoy).mkdir()
        (project / decoy / "__init__.py").write_text(f"raise ImportError('the consumer project's own {decoy}/')\n")
    decoys_first = {**os.environ, "PYTHONPATH": str(project)}
    completed = _run([installed_venv, RUNNER, project, STACK], cwd=project, env=decoys_first)
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    assert all(str(project) not in module for module in report["modules"].values()), report["modules"]
    assert len(report["resources"]) > 20
    plain_import = _run([installed_venv, "-c", "import infra"], cwd=project, env=decoys_first)
    assert "the consumer project's own infra/" in plain_import.stderr  # the decoy really was first on the path


@pytest.fixture(scope="session")
def example_run(installed_venv, tmp_path_factory):
    completed = subprocess.run(
        [installed_venv, RUNNER, EXAMPLE, STACK],
        cwd=EXAMPLE,  # where the Pulumi CLI runs a program
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    report["site_packages"] = subprocess.run(
        [installed_venv, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return report


@pytest.fixture(scope="session")
def example_render(installed_venv, tmp_path_factory) -> Path:
    """The example rendered by the installed package's CLI, run from an unrelated directory."""
    out = tmp_path_factory.mktemp("reuse-render") / STACK
    completed = subprocess.run(
        [installed_venv, "-m", "langgraph_k8s.infra.render", STACK, "--project", EXAMPLE, "--out", out],
        cwd=tmp_path_factory.mktemp("elsewhere"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert completed.stdout.startswith(f"rendered {len(list(out.glob('*.yaml'))) - 1} objects of stack '{STACK}'")
    return out


def of_type(report, type_token):
    return [r for r in report["resources"] if r["type"] == type_token]


def one(report, type_token):
    found = of_type(report, type_token)
    assert len(found) == 1, f"expected one {type_token}, found {[r['name'] for r in found]}"
    return found[0]


def test_example_project_file_is_schema_valid(pinned_schema_dir):
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    jsonschema.validate(project, json.loads((pinned_schema_dir / schemas.PROJECT_SCHEMA).read_text()))
    stack = yaml.safe_load((EXAMPLE / f"Pulumi.{STACK}.yaml").read_text())["config"]
    declared = set(project["config"])
    assert {key.split(":", 1)[1] for key in stack} <= declared
    assert {key.split(":", 1)[0] for key in stack} == {project["name"]}


def test_example_requires_the_package_not_a_path_into_the_checkout():
    requirements = [
        line for line in (EXAMPLE / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert requirements == ["../.."]
    assert (EXAMPLE / "../.." / "pyproject.toml").resolve() == PROJECT_ROOT / "pyproject.toml"


def test_components_come_from_the_installed_package(example_run):
    for module in example_run["modules"].values():
        assert module.startswith(example_run["site_packages"]), module


def test_inventory_uses_the_components_not_the_platform(example_run):
    counts: dict[str, int] = {}
    for r in example_run["resources"]:
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    assert {t: n for t, n in counts.items() if t.startswith("langgraph:")} == {
        Token.COMPONENT_SERVER_IMAGE: 2,
        Token.COMPONENT_POSTGRES_CHECKPOINT_STORE: 1,
        Token.COMPONENT_SCHEMA_MIGRATION: 1,
        Token.COMPONENT_LANGGRAPH_SERVICE: 1,
        Token.COMPONENT_OBSERVABILITY: 1,
        Token.COMPONENT_INGRESS: 1,
    }
    assert {t: n for t, n in counts.items() if not t.startswith("langgraph:")} == {
        Token.NAMESPACE: 1,
        Token.NETWORK_POLICY: 4,
        Token.DOCKER_IMAGE: 2,
        Token.RANDOM_PASSWORD: 4,
        Token.SECRET: 5,
        Token.PERSISTENT_VOLUME_CLAIM_PATCH: 1,
        Token.SERVICE: 2,
        Token.STATEFUL_SET: 1,
        Token.JOB: 1,
        Token.SERVICE_ACCOUNT: 1,
        Token.CONFIG_MAP: 1,
        Token.DEPLOYMENT: 1,
        Token.HORIZONTAL_POD_AUTOSCALER: 1,
        Token.POD_DISRUPTION_BUDGET: 1,
        Token.SERVICE_MONITOR: 1,
        Token.PROMETHEUS_RULE: 1,
        Token.H_T_T_P_ROUTE: 1,
    }


def test_images_are_the_installed_server_plus_the_agent_directory(example_run):
    images = {r["name"]: r["inputs"] for r in of_type(example_run, Token.DOCKER_IMAGE)}
    server = images["server-image-build"]
    server_dir = Path(example_run["modules"]["app"]).parent
    assert Path(server["build"]["context"]) == server_dir
    assert server_dir == Path(example_run["site_packages"]) / DIST / "app"
    assert Path(server["build"]["dockerfile"]) == server_dir / "Dockerfile"
    assert (PROJECT_ROOT / "app" / "Dockerfile").is_file()
    for name in ("Dockerfile", ".dockerignore", "requirements.txt", "requirements.lock"):  # the bundled build
        assert (server_dir / name).read_bytes() == (PROJECT_ROOT / "app" / name).read_bytes()
    assert server["imageName"] == f"{REPOSITORY}-server:latest"

    agent = images["agent-image-build"]
    assert (EXAMPLE / agent["build"]["context"]).resolve() == EXAMPLE / "agent"
    assert (EXAMPLE / agent["build"]["dockerfile"]).resolve() == EXAMPLE / "agent" / "Dockerfile"
    assert agent["build"]["args"] == {"SERVER_IMAGE": f"{REPOSITORY}-server@{MOCK_IMAGE_DIGEST}"}
    assert agent["imageName"] == f"{REPOSITORY}:latest"

    pinned_agent = f"{REPOSITORY}@{MOCK_IMAGE_DIGEST}"
    deployment = one(example_run, Token.DEPLOYMENT)["inputs"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == pinned_agent
    job = one(example_run, Token.JOB)["inputs"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == pinned_agent
    assert example_run["stack_outputs"]["image"] == pinned_agent


def test_agent_image_serves_the_agents_own_langgraph_json():
    dockerfile = (EXAMPLE / "agent" / "Dockerfile").read_text()
    copied_to = re.search(r"^COPY\b.*\s\.\s+(\S+)$", dockerfile, re.MULTILINE).group(1)
    config_path = re.search(r"^ENV LANGGRAPH_CONFIG=(\S+)$", dockerfile, re.MULTILINE).group(1)
    local_config = EXAMPLE / "agent" / Path(config_path).relative_to(copied_to)
    registry = load_registry(local_config, InMemorySaver())
    assert registry.names() == ["triage"]
    result = registry.get("triage").graph.invoke(
        {"message": "The API is down again"}, {"configurable": {"thread_id": "t1"}}
    )
    assert result["queue"] == "outage" and "outage team" in result["reply"]


def test_deployment_does_not_override_the_images_graph_config(example_run):
    config_map = one(example_run, Token.CONFIG_MAP)["inputs"]
    assert "LANGGRAPH_CONFIG" not in config_map["data"]
    container = one(example_run, Token.DEPLOYMENT)["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert all(e["name"] != "LANGGRAPH_CONFIG" for e in container.get("env", []))


def test_store_secret_and_server_wiring(example_run):
    secrets = {r["name"]: r["inputs"] for r in of_type(example_run, Token.SECRET)}
    assert set(secrets) == {
        "agent-db-credentials",
        "agent-db-dsn",
        "agent-db-prune-dsn",
        "agent-db-roles",
        "agent-secret",
    }
    for secret in secrets.values():
        assert is_secret(secret["stringData"])
        assert secret["metadata"]["namespace"] == "support-agent"
    dsn = reveal(secrets["agent-db-dsn"]["stringData"])["DATABASE_URL"]
    assert dsn.startswith("postgresql://langgraph:")
    assert "@agent-db-postgres.support-agent.svc.cluster.local:5432/" in dsn
    server_dsn = reveal(secrets["agent-secret"]["stringData"])["DATABASE_URL"]
    assert server_dsn.startswith("postgresql://langgraph_server:")  # the least-privilege role, not the owner
    assert server_dsn.endswith(dsn.split("@", 1)[1])

    deployment = one(example_run, Token.DEPLOYMENT)["inputs"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    store_policy = next(
        r["inputs"] for r in of_type(example_run, Token.NETWORK_POLICY) if r["name"] == "agent-db-netpol"
    )
    admitted = store_policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert admitted.items() <= pod_labels.items()
    job_labels = one(example_run, Token.JOB)["inputs"]["spec"]["template"]["metadata"]["labels"]
    assert admitted.items() <= job_labels.items()
    assert "replicas" not in deployment["spec"]

    service = {r["name"]: r["inputs"] for r in of_type(example_run, Token.SERVICE)}["agent-service"]
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["port"] == 8000
    route = one(example_run, Token.H_T_T_P_ROUTE)["inputs"]["spec"]
    assert route["hostnames"] == ["support-agent.dev.example.com"]
    assert route["parentRefs"][0]["namespace"] == "gateway-system"
    assert example_run["stack_outputs"]["url"] == "https://support-agent.dev.example.com"


def test_deployment_waits_for_the_migration(example_run):
    by_urn = {r["urn"]: r for r in example_run["resources"]}
    deployment = one(example_run, Token.DEPLOYMENT)
    job = one(example_run, Token.JOB)
    assert job["urn"] in deployment["dependencies"]  # the engine expands a component dependency to its children
    assert by_urn[job["parent"]]["type"] == Token.COMPONENT_SCHEMA_MIGRATION


def test_example_runs_as_the_project_its_pulumi_yaml_names(example_run):
    name = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]
    assert example_run["project"] == name != "langgraph-k8s"
    assert {r["urn"].split("::")[1] for r in example_run["resources"]} == {name}
    # its config (keyed by that name in the stack file) reached the program
    assert example_run["stack_outputs"]["url"] == "https://support-agent.dev.example.com"


def test_example_render_passes_the_schema_validators(example_render, pinned_schema_dir):
    manifests = validators.load_manifests(example_render)
    assert {m.body["kind"] for m in manifests} >= {"Deployment", "StatefulSet", "Job", "HTTPRoute", "PrometheusRule"}
    crds = validators.CustomResourceSchemas.from_directory(pinned_schema_dir / schemas.CRD_SUBDIR)
    findings = [*validators.check_builtin_schemas(manifests, custom_groups=crds.groups), *crds.check(manifests)]
    assert findings == []


def test_agent_dockerfile_passes_hadolint():
    assert validators.run_hadolint(EXAMPLE / "agent" / "Dockerfile") == []


def test_the_example_fails_when_a_runtime_dependency_is_missing(installed_venv, tmp_path):
    """What an undeclared dependency looks like in this venv: croniter hidden, the components do not import."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "croniter.py").write_text("raise ModuleNotFoundError(\"No module named 'croniter'\", name='croniter')\n")
    completed = _run(
        [installed_venv, RUNNER, EXAMPLE, STACK], cwd=EXAMPLE, env={**os.environ, "PYTHONPATH": str(hidden)}
    )
    assert completed.returncode != 0
    assert "No module named 'croniter'" in completed.stderr


def test_readme_reuse_example_runs_on_the_installed_package(installed_venv, tmp_path):
    """The README's program for someone reusing a component, as it stands, under mocks with the installed wheel."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    [program] = re.findall(r"^```python\n(.*?)^```$", readme, flags=re.MULTILINE | re.DOTALL)
    project = tmp_path / "readme-example"
    project.mkdir()
    (project / "__main__.py").write_text(program)
    (project / "Pulumi.yaml").write_text("name: readme-example\nruntime: python\n")
    (project / f"Pulumi.{STACK}.yaml").write_text("config: {}\n")
    completed = _run([installed_venv, RUNNER, project, STACK], cwd=project)
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    deployment = one(report, "kubernetes:apps/v1:Deployment")
    assert deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "ghcr.io/acme/agent@sha256:"
    )
    assert one(report, "kubernetes:batch/v1:Job")["urn"] in deployment["dependencies"]
    assert one(report, "kubernetes:apps/v1:StatefulSet")["inputs"]["metadata"]["namespace"] == "agents"
    assert report["stack_outputs"]["dns"].endswith(".agents.svc.cluster.local")
