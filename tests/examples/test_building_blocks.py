"""The component inputs examples/reuse relies on, each alone: image build args, pod labels from an Output."""

import pulumi
import pytest

import infra
from infra.labels import DB_CLIENT_LABEL
from infra.mocks import MOCK_IMAGE_DIGEST, run_program
from tests.tokens import Token


def test_server_image_passes_build_args_from_another_images_digest():
    def program():
        base = infra.ServerImage("base", {"repository": "registry.example.com/base", "context": "app"})
        derived = infra.ServerImage(
            "derived",
            {
                "repository": "registry.example.com/derived",
                "context": "agent",
                "dockerfile": "agent/Dockerfile",
                "build_args": {"SERVER_IMAGE": base.image_ref, "VERSION": "1.2"},
            },
        )
        pulumi.export("derived", derived.image_ref)

    run = run_program(program)
    builds = {r.name: r.inputs for r in run.of_type(Token.DOCKER_IMAGE)}
    assert builds["derived-build"]["build"]["args"] == {
        "SERVER_IMAGE": f"registry.example.com/base@{MOCK_IMAGE_DIGEST}",
        "VERSION": "1.2",
    }
    assert builds["derived-build"]["build"]["dockerfile"] == "agent/Dockerfile"
    assert "args" not in builds["base-build"]["build"]
    assert run.stack_outputs["derived"] == f"registry.example.com/derived@{MOCK_IMAGE_DIGEST}"


@pytest.mark.parametrize("labels_from_output", [True, False])
def test_service_pod_labels_accept_the_stores_output_or_a_dict(labels_from_output):
    def program():
        store = infra.PostgresCheckpointStore("store", {"namespace": "team-a", "client_label_value": "agent"})
        labels = store.client_labels if labels_from_output else {DB_CLIENT_LABEL: "agent"}
        infra.LangGraphService(
            "agent",
            {
                "namespace": "team-a",
                "image": "r/agent@sha256:" + "1" * 64,
                "database_url": store.dsn,
                "pod_labels": labels,
            },
        )

    run = run_program(program)
    deployment = run.one(Token.DEPLOYMENT).inputs
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[DB_CLIENT_LABEL] == "agent"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    policy = next(r for r in run.of_type(Token.NETWORK_POLICY) if r.name == "store-netpol")
    assert policy.inputs["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= pod_labels.items()
