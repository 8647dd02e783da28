"""Offline render: the Kubernetes objects a stack would send to the cluster, one YAML file per object.

    python -m infra.render <stack> [--out DIR] [--project DIR]

Runs the `__main__.py` of a Pulumi project (default: this repository's root; `--project examples/reuse`
renders another project built on the components) with its `Pulumi.<stack>.yaml` under Pulumi mocks
(`infra.mocks`), as the project named in its `Pulumi.yaml`. Writes `<kind>-<name>.yaml` per object plus
`index.yaml` into `--out` (default: `<project>/rendered/<stack>`). Output is deterministic. Every secret
value is replaced by `REDACTED` (Pulumi secrets anywhere, and everything under a Secret's `data`/`stringData`);
values that only exist after deployment carry the visible placeholders listed in the index. On an unknown
stack or invalid config nothing is written.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import mocks
from .config import StackConfigError
from .image import fixed_content_hash

REDACTED = "<secret:redacted>"
UNKNOWN_AFTER_DEPLOY = "<unknown:after-deploy>"
AUTO_NAME_SUFFIX = "-mock"  # what the mocks append where Pulumi appends a random suffix at deploy
INDEX_FILE = "index.yaml"

PLACEHOLDERS = {
    REDACTED: "a secret value; never written by the render",
    UNKNOWN_AFTER_DEPLOY: "a value only the deployment produces",
    mocks.MOCK_IMAGE_DIGEST: "placeholder image digest; the real one comes from the image build at deploy",
    f"-{mocks.MOCK_CONTENT_HASH}": "placeholder content hash of an unpushed build's tag; the real one at deploy",
    f"<name>{AUTO_NAME_SUFFIX}": "auto-named object; Pulumi appends a random suffix at deploy",
}

_TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata")


class RenderError(Exception):
    """The render cannot proceed; the message is what the user sees."""


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object as it would be sent to the cluster, with its file name and Pulumi origin."""

    manifest: dict[str, Any]
    pulumi_type: str
    pulumi_name: str

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.manifest["metadata"].get("namespace")

    @property
    def file_name(self) -> str:
        return f"{self.kind}-{self.name}.yaml".lower()


def available_stacks(root: Path | None = None) -> list[str]:
    root = root or mocks.PROJECT_ROOT
    return sorted(re.sub(r"^Pulumi\.(.+)\.yaml$", r"\1", p.name) for p in root.glob("Pulumi.*.yaml"))


def render_stack(stack: str, root: Path | None = None) -> dict[str, str]:
    """The rendered files of a stack, file name to text; raises `RenderError` for an unknown stack or bad config."""
    root = root or mocks.PROJECT_ROOT
    if not root.is_dir():
        raise RenderError(f"no Pulumi project directory at {root}")
    stacks = available_stacks(root)
    if stack not in stacks:
        raise RenderError(f"no stack named '{stack}' found (stacks: {', '.join(stacks) or 'none'})")
    try:
        with fixed_content_hash(mocks.MOCK_CONTENT_HASH):
            run = mocks.run_stack(stack, root=root)
    except (StackConfigError, mocks.ProjectFileError) as error:
        raise RenderError(str(error)) from None
    objects = [
        RenderedObject(_manifest(resource), resource.type, resource.name) for resource in run.kubernetes_objects()
    ]
    objects.sort(key=lambda o: o.file_name)
    files = {}
    for obj in objects:
        if obj.file_name in files:
            raise RenderError(f"two objects render to {obj.file_name}: give them distinct names")
        files[obj.file_name] = _dump(obj.manifest, header=f"Pulumi resource {obj.pulumi_type} '{obj.pulumi_name}'")
    others = sorted({(r.type, r.name) for r in run.resources if r.custom and not r.is_kubernetes})
    files[INDEX_FILE] = _dump(_index(stack, objects, others), header=f"Offline render of stack '{stack}'")
    return files


def _manifest(resource: mocks.RecordedResource) -> dict[str, Any]:
    """The object's inputs with secrets redacted (Secret values by key), numbers restored, auto-name filled in."""
    inputs = dict(resource.wire_inputs)
    if inputs.get("kind") == "Secret":
        for field in ("data", "stringData"):
            values = mocks.reveal(inputs.get(field))
            if isinstance(values, dict):
                inputs[field] = dict.fromkeys(values, REDACTED)
    manifest = _clean(inputs)
    metadata = manifest.setdefault("metadata", {})
    if "name" not in metadata:
        metadata["name"] = resource.outputs.get("metadata", {}).get("name", f"{resource.name}{AUTO_NAME_SUFFIX}")
    return manifest


def _clean(value: Any) -> Any:
    if mocks.is_secret(value):
        return REDACTED
    if mocks.is_unknown(value):
        return UNKNOWN_AFTER_DEPLOY
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire protocol carries every number as a float
    return value


def _index(stack: str, objects: list[RenderedObject], others: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "stack": stack,
        "placeholders": PLACEHOLDERS,
        "objects": [
            {
                "file": o.file_name,
                "kind": o.kind,
                "name": o.name,
                **({"namespace": o.namespace} if o.namespace else {}),
                "pulumi": {"type": o.pulumi_type, "name": o.pulumi_name},
            }
            for o in objects
        ],
        "otherResources": [{"type": t, "name": n} for t, n in others],
    }


def _ordered(value: Any, top_level: bool = False) -> Any:
    """Keys sorted (apiVersion, kind, metadata first at the top), so the same input gives the same bytes."""
    if isinstance(value, dict):
        first = [k for k in _TOP_LEVEL_ORDER if k in value] if top_level else []
        keys = first + sorted(k for k in value if k not in first)
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings (PromQL, dashboards) as literal blocks, no line folding."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(document: Mapping[str, Any], header: str) -> str:
    body = yaml.dump(_ordered(document, top_level=True), Dumper=_Dumper, sort_keys=False, width=4096)
    return f"# {header}. Written by `python -m infra.render`; do not edit.\n{body}"


def write_render(files: Mapping[str, str], out: Path) -> None:
    """Write into a fresh directory, then swap it in for `out` (which must be absent, empty or a previous render)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / INDEX_FILE).is_file():
        raise RenderError(f"refusing to replace {out}: it is not empty and holds no {INDEX_FILE} from a render")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.render", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: renders Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default: <project>/rendered/<stack>)")
    parser.add_argument(
        "--project", type=Path, help="directory of the Pulumi project to render (default: this repository's root)"
    )
    args = parser.parse_args(argv)
    project = args.project or mocks.PROJECT_ROOT
    out = args.out or project / "rendered" / args.stack
    try:
        files = render_stack(args.stack, project)
        write_render(files, out)
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"rendered {len(files) - 1} objects of stack '{args.stack}' to {out}/ (see {out / INDEX_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
