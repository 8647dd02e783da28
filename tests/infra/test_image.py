"""ServerImage: pushed builds are pinned by digest; an unpushed build gets a tag named after its content."""

import re
from pathlib import Path

import infra
from infra.image import UNPUSHED_BUILD_SKIPS, env_secret_checkov_skips, pull_policy
from infra.mocks import MOCK_IMAGE_DIGEST, run_program
from tests.tokens import Token


def build(context: Path, push: bool, **extra) -> dict:
    """Run ServerImage alone; return its image reference and the registered docker Image's inputs."""
    refs = []

    def program():
        image = infra.ServerImage(
            "img",
            {
                "repository": "localhost:5000/agent",
                "tag": "dev",
                "context": str(context),
                "dockerfile": str(context / "Dockerfile"),
                "push": push,
                **extra,
            },
        )
        image.image_ref.apply(refs.append)

    run = run_program(program)
    return {"ref": refs[0], "docker": run.one(Token.DOCKER_IMAGE).inputs}


def make_context(root: Path) -> Path:
    (root / "graphs").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\n")
    (root / "graphs" / "agent.py").write_text("GRAPH = 1\n")
    (root / ".dockerignore").write_text("**/__pycache__\n*.log\n")
    return root


def test_pushed_build_runs_by_digest(tmp_path):
    image = build(make_context(tmp_path), push=True)
    assert image["ref"] == f"localhost:5000/agent@{MOCK_IMAGE_DIGEST}"
    assert pull_policy(image["ref"]) == "Always"


def test_unpushed_build_tag_follows_the_content_so_a_rebuild_rolls_the_pods(tmp_path):
    context = make_context(tmp_path)
    first = build(context, push=False)
    assert re.fullmatch(r"localhost:5000/agent:dev-[0-9a-f]{12}", first["ref"])
    assert first["docker"]["imageName"] == first["ref"] and first["docker"]["skipPush"] is True
    assert pull_policy(first["ref"]) == "IfNotPresent"
    assert build(context, push=False)["ref"] == first["ref"]

    (context / "graphs" / "agent.py").write_text("GRAPH = 2\n")
    changed = build(context, push=False)["ref"]
    assert changed != first["ref"]

    (context / "debug.log").write_text("ignored by .dockerignore")
    (context / "graphs" / "__pycache__").mkdir()
    (context / "graphs" / "__pycache__" / "agent.cpython-311.pyc").write_bytes(b"\0")
    assert build(context, push=False)["ref"] == changed

    assert build(context, push=False, build_args={"BASE": "other"})["ref"] != changed


def test_unpushed_build_skips_only_the_registry_checks():
    skips = {}
    run_program(lambda: env_secret_checkov_skips("localhost:5000/a:dev-0123456789ab", "reads env").apply(skips.update))
    assert set(skips.values()) == {"CKV_K8S_35=reads env", *UNPUSHED_BUILD_SKIPS}
