"""The README tells the truth: every shell command in it is run here or checked, every link and anchor resolves.

`COMMAND_CHECKS` maps each command of the README's `sh` and `console` blocks to the test that runs or checks it;
a command without an entry (or an entry whose command left the README) fails `test_every_command_has_a_check`.
The `console` session is run for real against the server and its output compared; `make run` is started; the
Pulumi and kubectl commands, which need a cluster, are checked against the program under mocks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from app.contract import HTTP_PORT, Env
from infra import ALERTS
from infra.config_reference import leaf_keys
from infra.mocks import is_secret, reveal, run_stack
from infra.observability import RUNBOOK_DOCUMENT
from tests.pg import free_port
from tests.server_process import ServerProcess
from tests.tokens import Token

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text()
MAX_LINES = 200
API_KEY = "readme-test-key"
NEW_STACK = "staging"
REPOSITORY = "ghcr.io/acme/langgraph-server"


def _blocks(language: str, text: str = TEXT) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def readme_commands() -> list[str]:
    """Every command: `sh` lines without their trailing comment, and `$ ` lines of `console` sessions."""
    commands = []
    for block in _blocks("sh"):
        commands += [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines() if line.strip()]
    for block in _blocks("console"):
        commands += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return commands


def console_session() -> list[tuple[str, str]]:
    """The `console` block as (command, expected output) pairs."""
    [block] = _blocks("console")
    session: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], ""))
        else:
            command, output = session[-1]
            session[-1] = (command, f"{output}{line}\n")
    return session


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a markdown text."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _links(path: Path) -> list[tuple[str, str]]:
    """(target, anchor) of every relative link in a markdown file; the target is empty for a same-file anchor."""
    return re.findall(r"\]\((?!https?:)([^)#\s]*)(?:#([^)\s]*))?\)", path.read_text())


# --- the server the console session and the deploy checks talk to -------------------------------------------


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    assert Env.API_KEYS not in os.environ, "the README's session runs with auth off"
    environ = {Env.DATA_DIR: str(tmp_path_factory.mktemp("readme-data")), "OPENAI_API_KEY": ""}
    with ServerProcess(env=environ) as server:
        yield server


def _run_against(server: ServerProcess, command: str) -> subprocess.CompletedProcess:
    command = command.replace(f"localhost:{HTTP_PORT}", f"127.0.0.1:{server.port}")
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False)


# --- what each command is checked by ------------------------------------------------------------------------


def check_make_run() -> None:
    """Start `make run` on a free port and see the start-up line and a healthy server, as the README says."""
    port = free_port()
    environ = {**{k: v for k, v in os.environ.items() if k != Env.API_KEYS}, "OPENAI_API_KEY": ""}
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env={**environ, Env.DATA_DIR: str(Path(os.environ.get("TMPDIR", "/tmp")) / f"readme-run-{port}")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("`make run` did not serve /health within 60 s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
    assert '"graphs":["review","steps"]' in output


def check_make_test() -> None:
    """`make test` is what CI runs (so this suite is its run), then `make e2e`; it lints and gets the schemas first."""
    assert (ROOT / ".ci" / "run").read_text().rstrip().splitlines()[-2:] == ["make test", "make e2e"]
    prerequisites = re.search(r"^test: (.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE).group(1).split()
    assert prerequisites[0] == "lint" and "$(SCHEMAS_READY)" in prerequisites


def check_pulumi_login() -> None:
    """The project pins no backend, so whichever `pulumi login` was chosen holds the state."""
    assert "backend" not in yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def _new_stack_run(tmp_path: Path):
    """`pulumi stack init staging` + `pulumi config set --path image.repository …` + `pulumi up`, under mocks."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(ROOT / name, tmp_path / name)
    config = {"config": {"langgraph-k8s:image": {"repository": REPOSITORY}}}  # what `config set --path` writes
    (tmp_path / f"Pulumi.{NEW_STACK}.yaml").write_text(yaml.safe_dump(config))
    return run_stack(NEW_STACK, root=tmp_path)


def check_new_stack_deploys_with_only_a_registry(tmp_path: Path) -> None:
    assert not (ROOT / f"Pulumi.{NEW_STACK}.yaml").exists(), "the walk-through creates a new stack"
    run = _new_stack_run(tmp_path)
    deployment = run.one(Token.DEPLOYMENT)
    assert deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"].startswith(f"{REPOSITORY}@sha256:")
    assert run.one(Token.JOB).urn in deployment.dependencies  # migrated before the rollout


def check_pulumi_install() -> None:
    """`pulumi install` makes the virtualenv Pulumi.yaml names from requirements.txt."""
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    assert runtime == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert re.search(r"^pulumi==", (ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)


def check_config_key_exists() -> None:
    assert "image.repository" in {path for path, _, _ in leaf_keys()}


def check_port_forward_targets_the_server(tmp_path: Path) -> None:
    """`svc/<first label of serviceDnsName>` in `namespace` is the server's Service, on the contract's port."""
    run = _new_stack_run(tmp_path)
    outputs = run.stack_outputs
    service_name, namespace = outputs["serviceDnsName"].split(".")[:2]
    assert namespace == outputs["namespace"]
    services = {r.outputs["metadata"]["name"]: r for r in run.of_type(Token.SERVICE)}
    assert HTTP_PORT in [p["port"] for p in services[service_name].inputs["spec"]["ports"]]
    assert services[service_name].inputs["metadata"]["namespace"] == namespace


def check_ready(local_server: ServerProcess) -> None:
    completed = _run_against(local_server, "curl -s localhost:8000/ready")
    assert json.loads(completed.stdout) == {"status": "ready"}
    assert '`/ready` answers `{"status":"ready"}`' in TEXT


def check_api_key_call(local_server: ServerProcess, tmp_path: Path) -> None:
    """The generated key is the secret output `apiKey`; sent as `x-api-key`, it opens the graph routes."""
    outputs = _new_stack_run(tmp_path).stack_outputs
    assert is_secret(outputs["apiKey"]) and reveal(outputs["apiKey"])
    [command] = [c for c in readme_commands() if "apiKey --show-secrets" in c]
    with ServerProcess(env={Env.API_KEYS: API_KEY, "OPENAI_API_KEY": ""}) as guarded:
        opened = _run_against(guarded, command.replace("$(pulumi stack output apiKey --show-secrets)", API_KEY))
        refused = _run_against(guarded, command.replace("$(pulumi stack output apiKey --show-secrets)", "wrong"))
    assert {g["name"] for g in json.loads(opened.stdout)["graphs"]} == {"review", "steps"}
    assert "error" in json.loads(refused.stdout)


COMMAND_CHECKS = {
    "make run": "check_make_run",
    "make test": "check_make_test",
    "pulumi login": "check_pulumi_login",
    f"pulumi stack init {NEW_STACK}": "check_new_stack_deploys_with_only_a_registry",
    "pulumi install": "check_pulumi_install",
    f"pulumi config set --path image.repository {REPOSITORY}": "check_config_key_exists",
    "pulumi up": "check_new_stack_deploys_with_only_a_registry",
    'kubectl -n "$(pulumi stack output namespace)" port-forward '
    '"svc/$(pulumi stack output serviceDnsName | cut -d. -f1)" 8000:8000 &': "check_port_forward_targets_the_server",
    "curl -s localhost:8000/ready": "check_ready",
    'curl -s localhost:8000/graphs -H "x-api-key: $(pulumi stack output apiKey --show-secrets)"': "check_api_key_call",
    **{command: "test_console_session_output_is_what_the_server_answers" for command, _ in console_session()},
}


def test_every_command_has_a_check():
    commands = readme_commands()
    assert commands, "no commands found in the README"
    assert sorted(set(commands) - set(COMMAND_CHECKS)) == [], "README commands without a check in COMMAND_CHECKS"
    assert sorted(set(COMMAND_CHECKS) - set(commands)) == [], "COMMAND_CHECKS entries no longer in the README"
    for check in COMMAND_CHECKS.values():
        assert check in globals(), f"{check} does not exist"


def test_a_new_command_without_a_check_is_caught():
    extra = "```sh\nmake everything\n```\n"
    assert "make everything" in [c for block in _blocks("sh", TEXT + extra) for c in block.splitlines()]
    assert "make everything" not in COMMAND_CHECKS


@pytest.mark.parametrize(
    "check",
    sorted({c for c in COMMAND_CHECKS.values() if c.startswith("check_")}),
)
def test_command_check(check, request, tmp_path):
    function = globals()[check]
    arguments = {"tmp_path": tmp_path}
    if "local_server" in function.__code__.co_varnames[: function.__code__.co_argcount]:
        arguments["local_server"] = request.getfixturevalue("local_server")
    names = function.__code__.co_varnames[: function.__code__.co_argcount]
    function(**{name: arguments[name] for name in names})


def test_console_session_output_is_what_the_server_answers(local_server):
    for command, expected in console_session():
        completed = _run_against(local_server, command)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == expected.strip(), command


# --- shape, links, anchors ------------------------------------------------------------------------------------


def test_readme_is_short():
    assert len(TEXT.splitlines()) <= MAX_LINES


def test_quick_start_is_two_commands():
    try_it = TEXT.split("## Try it", 1)[1].split("\n## ", 1)[0]
    assert [re.sub(r"\s+#.*$", "", line) for line in _blocks("sh", try_it)[0].strip().splitlines()] == [
        "make run",
        "make test",
    ]


def test_make_targets_the_readme_names_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][\w-]*)", TEXT))
    assert named and named <= targets, sorted(named - targets)


@pytest.mark.parametrize("document", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(document):
    for target, anchor in _links(document):
        path = (document.parent / target).resolve() if target else document
        assert path.exists(), f"{document.name} links to missing {target}"
        if anchor:
            assert anchor in _anchors(path.read_text()), f"{document.name} links to missing anchor {target}#{anchor}"


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[a](missing.md) [b](#title) [c](#nope) [d](https://example.com/x)\n")
    assert _links(page) == [("missing.md", ""), ("", "title"), ("", "nope")]
    assert "title" in _anchors(page.read_text()) and "nope" not in _anchors(page.read_text())


def test_every_alert_has_a_runbook_section_and_every_runbook_an_alert():
    runbooks = ROOT / RUNBOOK_DOCUMENT
    text = runbooks.read_text()
    assert {alert.anchor for alert in ALERTS} <= _anchors(text)
    assert set(re.findall(r"^## Alert: (\w+)$", text, flags=re.MULTILINE)) == {alert.name for alert in ALERTS}


def test_moving_from_langgraph_platform_shows_the_client_pointed_here():
    section = (ROOT / "docs" / "api.md").read_text().split("## Moving from LangGraph Platform", 1)[1]
    assert "from langgraph_sdk import get_client" in section
    assert "client.runs.wait(" in section
    assert 'command={"resume"' in section
