"""The component provider other languages use: schema inferred in-process, inputs mapped, plugin launchable."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import grpc
import pytest
import yaml
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

import infra
from infra.mocks import PROJECT_ROOT
from infra.provider import PROVIDER_NAME, build_provider, package_version

PLUGIN_DIR = PROJECT_ROOT / "provider"
TOKEN = f"{PROVIDER_NAME}:index:"


@pytest.fixture(scope="module")
def provider():
    return build_provider()


@pytest.fixture(scope="module")
def schema(provider):
    return json.loads(provider.schema)


def component(schema, name):
    resource = schema["resources"][f"{TOKEN}{name}"]
    assert resource["isComponent"] is True
    return resource


def is_input_string_map(prop) -> bool:
    """A map of strings that may be passed as one Output (the analyzer marks only its values plain)."""
    return prop["type"] == "object" and "plain" not in prop and prop["additionalProperties"]["type"] == "string"


def test_package_identity(schema):
    assert schema["name"] == "langgraph"
    assert schema["version"] == package_version() != "0.0.0"


def test_the_four_reusable_components_and_their_inputs(schema):
    service = component(schema, "LangGraphService")
    assert set(service["requiredInputs"]) == {"namespace", "image", "databaseUrl"}
    inputs = service["inputProperties"]
    assert inputs["databaseUrl"]["type"] == "string" and "plain" not in inputs["databaseUrl"]
    assert inputs["maxRunSeconds"] == {"type": "integer", "plain": True}
    assert inputs["apiKeys"]["type"] == "array" and inputs["apiKeys"]["items"]["type"] == "string"
    assert inputs["providerKeys"]["additionalProperties"]["type"] == "string"
    # an input map, so another program can pass the store's `clientLabels` output
    assert is_input_string_map(inputs["podLabels"])
    assert inputs["autoscaling"]["$ref"] == f"#/types/{TOKEN}AutoscalingArgs"
    assert set(schema["types"][f"{TOKEN}AutoscalingArgs"]["required"]) == {"minReplicas", "maxReplicas"}
    assert set(service["properties"]) == {"serviceName", "dnsName", "port", "deploymentName"}
    assert service["properties"]["port"]["type"] == "integer"

    store = component(schema, "PostgresCheckpointStore")
    assert store["requiredInputs"] == ["namespace"]
    assert {"mode", "externalDsn", "storageSize", "storageClass", "resources"} <= set(store["inputProperties"])
    assert store["inputProperties"]["resources"]["$ref"] == f"#/types/{TOKEN}ResourcesArgs"
    assert {"host", "port", "dsn", "dsnSecretName", "clientLabels"} <= set(store["properties"])

    observability = component(schema, "Observability")
    assert set(observability["requiredInputs"]) == {"namespace", "serviceInstance"}
    assert observability["inputProperties"]["thresholds"]["$ref"] == f"#/types/{TOKEN}ThresholdsArgs"
    assert schema["types"][f"{TOKEN}ThresholdsArgs"]["properties"]["http5xxRatio"]["type"] == "number"
    assert set(observability["properties"]) == {"ruleName"}

    ingress = component(schema, "Ingress")
    assert set(ingress["requiredInputs"]) == {"namespace", "mode", "serviceName", "servicePort"}
    assert ingress["inputProperties"]["servicePort"] == {"type": "integer", "plain": True}
    assert ingress["inputProperties"]["gateway"]["$ref"] == f"#/types/{TOKEN}GatewayRefArgs"
    assert set(ingress["properties"]) == {"url"}


def test_every_exported_component_is_hosted(schema):
    hosted = {r.removeprefix(TOKEN) for r in schema["resources"]}
    assert hosted == {component.__name__ for component in infra.COMPONENTS}
    assert hosted >= {
        "LangGraphService",
        "PostgresCheckpointStore",
        "Observability",
        "Ingress",
        "SchemaMigration",
        "ServerImage",
        "CheckpointRetention",
        "CheckpointBackup",
        "GrafanaDashboard",
        "PrometheusAdapterRule",
        "LangGraphPlatform",
    }
    settings = component(schema, "LangGraphPlatform")["inputProperties"]["settings"]
    assert settings["type"] == "object" and settings["additionalProperties"]["$ref"] == "pulumi.json#/Any"


def test_the_image_takes_build_args_as_an_input_map(schema):
    image = component(schema, "ServerImage")
    assert is_input_string_map(image["inputProperties"]["buildArgs"])
    assert set(image["properties"]) == {"imageRef", "digest"}


def test_the_operations_components_and_their_inputs(schema):
    retention = component(schema, "CheckpointRetention")
    assert set(retention["requiredInputs"]) == {"namespace", "image", "dsnSecretName", "days"}
    assert retention["inputProperties"]["days"]["type"] == "integer"
    assert is_input_string_map(retention["inputProperties"]["podLabels"])
    assert set(retention["properties"]) == {"cronJobName"}

    backup = component(schema, "CheckpointBackup")
    assert set(backup["requiredInputs"]) == {"namespace", "host", "credentialsSecretName"}
    assert backup["inputProperties"]["keep"]["type"] == "integer"
    assert backup["inputProperties"]["resources"]["$ref"] == f"#/types/{TOKEN}ResourcesArgs"
    assert set(backup["properties"]) == {"claimName", "cronJobName"}

    dashboard = component(schema, "GrafanaDashboard")
    assert set(dashboard["requiredInputs"]) == {"namespace", "serviceInstance"}
    assert set(dashboard["properties"]) == {"configMapName"}

    adapter = component(schema, "PrometheusAdapterRule")
    assert adapter["requiredInputs"] == ["namespace"]
    assert set(adapter["properties"]) == {"configMapName"}


def test_whole_numbers_from_the_wire_reach_the_components_as_int(provider):
    definition = provider._component_defs["LangGraphService"]
    mapped = provider.map_inputs(
        {
            "namespace": "a",
            "image": "i",
            "databaseUrl": "postgresql://x",
            "maxRunSeconds": 600.0,
            "autoscaling": {"minReplicas": 2.0, "maxReplicas": 4.0},
        },
        definition,
    )
    assert mapped["max_run_seconds"] == 600 and type(mapped["max_run_seconds"]) is int
    assert mapped["autoscaling"] == {"min_replicas": 2, "max_replicas": 4}
    assert all(type(v) is int for v in mapped["autoscaling"].values())


def test_a_fractional_integer_input_names_the_property(provider):
    definition = provider._component_defs["LangGraphService"]
    inputs = {"namespace": "a", "image": "i", "databaseUrl": "x", "autoscaling": {"minReplicas": 1.5, "maxReplicas": 3}}
    with pytest.raises(InputPropertyError) as raised:
        provider.map_inputs(inputs, definition)
    assert raised.value.property_path == "autoscaling.minReplicas"
    assert "whole number" in raised.value.reason and "1.5" in raised.value.reason


def test_plugin_manifest_declares_python_with_a_virtualenv():
    manifest = yaml.safe_load((PLUGIN_DIR / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == "venv"
    requirements = (PLUGIN_DIR / "requirements.txt").read_text().split()
    assert "../requirements.txt" in requirements and (PLUGIN_DIR / "../requirements.txt").is_file()


def test_plugin_serves_the_schema_when_launched_like_the_language_host_does(schema, tmp_path):
    # `python <plugin dir> <engine address>`, from an unrelated working directory.
    process = subprocess.Popen(
        [sys.executable, str(PLUGIN_DIR), "127.0.0.1:1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
        assert json.loads(served.schema) == schema
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_components_are_accepted_by_the_schema_analyzer():
    result = Analyzer("langgraph").analyze(list(infra.COMPONENTS))
    definitions = result["component_definitions"]
    assert set(definitions) == {c.__name__ for c in infra.COMPONENTS}
    assert "dsn" in definitions["PostgresCheckpointStore"].outputs
    for component in infra.COMPONENTS:
        assert f'"langgraph:index:{component.__name__}"' in inspect.getsource(component)
