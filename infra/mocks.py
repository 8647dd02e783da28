"""Run the Pulumi program (or any component) offline with Pulumi mocks and record what it registers.

Used by the mocks tests and by the offline render (`python -m infra.render`). No engine, cluster or
Docker daemon is needed: every resource registration is answered by `RecordingMocks` with realistic
outputs and recorded as a `RecordedResource`.

Values in recorded inputs keep Pulumi's wire shapes, so a consumer can tell them apart:
- a secret is a dict `{SECRET_SIG_KEY: SECRET_SIG, "value": ...}` (see `is_secret`, `reveal`);
- a value unknown until deploy (only in `preview=True` runs) is the string `UNKNOWN` (see `is_unknown`);
- in non-preview runs, values the real engine would compute are replaced by the `MOCK_*` placeholders below.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""This checkout's root: the langgraph-k8s Pulumi project (`run_stack`'s default project directory)."""
PROJECT_FILE = "Pulumi.yaml"

UNKNOWN = rpc.UNKNOWN
SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig

# Placeholders for values only a real deployment produces; recognisable on sight in rendered output.
MOCK_IMAGE_DIGEST = "sha256:" + "0" * 64
MOCK_PASSWORD = "mock-generated-password"  # noqa: S105 - a placeholder, never deployed
"""Prefix of every generated password; each RandomPassword gets `<this>-<its name>`, so no two are equal."""
MOCK_CLUSTER_IP = "10.96.0.10"
MOCK_CONTENT_HASH = "0" * 12


def is_secret(value: Any) -> bool:
    """Whether a recorded value is wrapped in Pulumi's secret envelope."""
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The value with every secret envelope removed, recursively."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def is_unknown(value: Any) -> bool:
    """Whether a recorded value is unknown until deploy (preview runs only)."""
    return value == UNKNOWN


def contains_secret(value: Any) -> bool:
    """Whether a secret envelope appears anywhere inside the value."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


@dataclass
class RecordedResource:
    """One registered resource: its type token, logical name, final inputs and mock outputs."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    provider: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    # The inputs exactly as sent, secrets marked where they are: `inputs` (like Pulumi's deserializer) lifts a
    # nested secret's envelope up to the enclosing top-level property, which the render must not redact whole.
    wire_inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_kubernetes(self) -> bool:
        """Whether this is a Kubernetes object (its inputs are a camelCase manifest)."""
        return self.type.startswith("kubernetes:") and self.custom and not self.type.startswith("pulumi:providers:")

    @property
    def kind(self) -> str:
        return self.inputs.get("kind", "")


@dataclass
class ProgramRun:
    """What one mocks run registered, in registration order, and the stack outputs it exported."""

    resources: list[RecordedResource]
    stack_outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> RecordedResource:
        """The single resource of a type; fails with the names found otherwise."""
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def kubernetes_objects(self) -> Iterator[RecordedResource]:
        return (r for r in self.resources if r.is_kubernetes)

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r.type] = counts.get(r.type, 0) + 1
        return counts


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations with outputs shaped like the real providers' (secrets stay secret)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = {SECRET_SIG_KEY: SECRET_SIG, "value": f"{MOCK_PASSWORD}-{args.name}"}
        elif args.typ == "docker:index/image:Image":
            repository = str(args.inputs.get("imageName", "")).rsplit(":", 1)[0]
            state["repoDigest"] = f"{repository}@{MOCK_IMAGE_DIGEST}"
            state["baseImageName"] = args.inputs.get("imageName")
        elif args.typ.startswith("kubernetes:") and "metadata" in args.inputs:
            metadata = dict(args.inputs["metadata"])
            namespaced = args.typ != "kubernetes:core/v1:Namespace"
            metadata.setdefault("name", f"{args.name}-mock")
            if namespaced:
                metadata.setdefault("namespace", "default")
            state["metadata"] = metadata
            resource_id = f"{metadata['namespace']}/{metadata['name']}" if namespaced else metadata["name"]
            if args.typ == "kubernetes:core/v1:Service":
                state["spec"] = {**args.inputs.get("spec", {}), "clusterIP": MOCK_CLUSTER_IP}
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping each registration's inputs, parent, dependencies and provider."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):  # gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    outputs=self.resources[response.urn].state if response.urn in self.resources else {},
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    ignore_changes=list(request.ignoreChanges),
                    wire_inputs=json_format.MessageToDict(request.object),
                )
            )
        return response


class ProjectFileError(ValueError):
    """A project's `Pulumi.yaml` does not name the project."""


def project_name(root: Path = PROJECT_ROOT) -> str:
    """The `name` in `<root>/Pulumi.yaml`, as the engine takes it.

    A directory without a project file (a scratch program in a test) is named after the directory, as
    `pulumi new` would name it.
    """
    project_file = root / PROJECT_FILE
    if not project_file.is_file():
        return root.resolve().name
    name = (yaml.safe_load(project_file.read_text()) or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ProjectFileError(f"{project_file} has no project 'name' (got {name!r})")
    return name


def stack_config(stack: str, root: Path = PROJECT_ROOT, project: str | None = None) -> dict[str, str]:
    """`Pulumi.<stack>.yaml`'s `config:` as the engine hands it to a program: full keys, objects JSON-encoded.

    Bare keys get the prefix `project` (default: the project's own name from `Pulumi.yaml`).
    """
    document = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()) or {}
    return encode_config(document.get("config") or {}, project or project_name(root))


def encode_config(values: dict[str, Any], project: str) -> dict[str, str]:
    """Config values keyed `project:key` (a bare key gets the project prefix), encoded as the engine does."""
    encoded = {}
    for key, value in values.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, str):
            encoded[full_key] = value
        else:
            encoded[full_key] = json.dumps(value)
    return encoded


def run_program(
    program: Callable[[], Any],
    *,
    project: str = "test",
    stack: str = "test",
    config: dict[str, str] | None = None,
    preview: bool = False,
    mocks: pulumi.runtime.Mocks | None = None,
    secret_keys: list[str] | None = None,
) -> ProgramRun:
    """Run `program` as `project`/`stack` under mocks with engine-shaped config; return everything it registered.

    Each run gets a fresh event loop and fresh runtime settings, so runs are independent. An exception
    raised by the program propagates; the resources registered before it are on `exc.run` if wanted.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(mocks or RecordingMocks())
    pulumi.runtime.set_all_config(config or {}, secret_keys or [])
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def body():
        program()
        root = settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})

        async def collect_exports() -> None:
            for key, value in outputs.items():
                output = pulumi.Output.from_input(value)
                resolved = await output.future(with_unknowns=True)
                exports[key] = {SECRET_SIG_KEY: SECRET_SIG, "value": resolved} if await output.is_secret() else resolved

        return collect_exports()

    try:
        body()
    finally:
        settings.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    return ProgramRun(resources=monitor.recorded, stack_outputs=exports)


def run_stack(
    stack: str,
    *,
    root: Path = PROJECT_ROOT,
    overrides: dict[str, Any] | None = None,
    secrets: tuple[str, ...] | list[str] = (),
    preview: bool = False,
) -> ProgramRun:
    """Run the project at `root` (its `__main__.py`, as the project named in its `Pulumi.yaml`) with
    `Pulumi.<stack>.yaml` plus `overrides` (bare or full keys); `secrets` names the keys set with `--secret`."""
    project = project_name(root)
    config = stack_config(stack, root, project)
    config.update(encode_config(overrides or {}, project))
    main = root / "__main__.py"
    sys.path.insert(0, str(root))
    cwd = Path.cwd()
    os.chdir(root)  # the engine runs a program in its project directory, where relative paths (a build context) start
    try:
        return run_program(
            lambda: runpy.run_path(str(main), run_name="__main__"),
            project=project,
            stack=stack,
            config=config,
            preview=preview,
            secret_keys=[key if ":" in key else f"{project}:{key}" for key in secrets],
        )
    finally:
        os.chdir(cwd)
        sys.path.remove(str(root))
