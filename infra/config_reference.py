"""The stack-config reference, docs/configuration.md, generated from the pydantic models.

`python -m infra.config_reference` prints it; `--write` rewrites docs/configuration.md. A test checks the file
equals the generated text, so the docs cannot drift from the models.
"""

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pulumi
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .config import PROJECT, SECRET_KEYS, StackConfig, StackSecrets

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
WRITE_COMMAND = "python -m infra.config_reference --write"


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model a field holds, directly or as `Model | None`."""
    candidates = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    for candidate in (annotation, *candidates):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo, value: object) -> str:
    if value is PydanticUndefined:
        return "required"
    return f"`{json.dumps(value)}`"


def leaf_keys(
    model: type[BaseModel] = StackConfig, prefix: str = "", defaults: BaseModel | None = None
) -> Iterator[tuple[str, FieldInfo, object]]:
    """Every key a stack can set, as a dotted camelCase path, with its field and effective default.

    A nested model's default instance (e.g. `resources`) supplies the defaults of its keys.
    """
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        if defaults is not None:
            default = getattr(defaults, name)
        else:
            default = PydanticUndefined if field.is_required() else field.get_default(call_default_factory=True)
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from leaf_keys(nested, f"{path}.", default if isinstance(default, BaseModel) else None)
        else:
            yield path, field, default


def _description(field: FieldInfo, path: str) -> str:
    if not field.description:
        raise ValueError(f"config key {path} has no description: add Field(description=...) in infra/config.py")
    return " ".join(field.description.split())  # one table row, however the docstring wraps


def secret_type(key: str) -> object:
    """The type a secret key holds, from `StackSecrets` (`pulumi.Output[T] | None` gives T)."""
    hints = typing.get_type_hints(StackSecrets)
    for field in dataclasses.fields(StackSecrets):
        if to_camel(field.name) == key:
            output = next(a for a in typing.get_args(hints[field.name]) if typing.get_origin(a) is pulumi.Output)
            return typing.get_args(output)[0]
    raise KeyError(f"secret key {key} has no field in StackSecrets")


def _set_secret_command(key: str, kind: object) -> str:
    if typing.get_origin(kind) is dict:
        return f"pulumi config set --secret --path '{key}.<NAME>' <value>"
    return f"pulumi config set --secret {key} <value>"


def render_table() -> str:
    """The markdown table of every key, its type, default and meaning."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for path, field, default in leaf_keys():
        rows.append(
            f"| `{path}` | {_type_name(field.annotation)} | {_default(field, default)} | {_description(field, path)} |"
        )
    for key, meaning in SECRET_KEYS.items():
        kind = secret_type(key)
        command = _set_secret_command(key, kind)
        rows.append(f"| `{key}` (secret) | {_type_name(kind)} | unset | {meaning}; `{command}` |")
    return "\n".join(rows)


def render_document() -> str:
    """docs/configuration.md: how stack config is set, then the table."""
    return f"""# Configuration reference

<!-- Generated from infra/config.py by `{WRITE_COMMAND}`; a test fails when this file and the models differ. -->

Every key a stack can set. Keys live under the `{PROJECT}:` namespace in `Pulumi.<stack>.yaml`; set one with
`pulumi config set --path <key> <value>` (e.g. `pulumi config set --path image.repository ghcr.io/me/server`).
Invalid config stops the program before any resource is created, with one message naming the stack, every bad
key path and what is allowed. Secrets never go in the stack files: the two secret keys at the end are set with
`pulumi config set --secret`, and the database password and API key are generated and held as Pulumi secrets.

{render_table()}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {DOCUMENT.name}")
    args = parser.parse_args(argv)
    if args.write:
        DOCUMENT.write_text(render_document())
    else:
        print(render_document(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
