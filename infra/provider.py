"""Component provider: the components of `infra` for TypeScript, Go, C#, Java and YAML programs.

Pulumi runs this through `provider/__main__.py` (the source-based plugin of `pulumi package add`);
`python -m infra.provider <engine address>` does the same from an installed package. The schema is
inferred from the components' type annotations (tokens `langgraph:index:<ClassName>`).
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pulumi
import pulumi.provider
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.analyzer import PropertyDefinition, PropertyType
from pulumi.provider.experimental.component import ComponentProvider

from . import COMPONENTS

PROVIDER_NAME = "langgraph"
DISTRIBUTION = "langgraph-k8s"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def package_version() -> str:
    """The version of the installed distribution, or of the source checkout's pyproject.toml."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return tomllib.loads(PYPROJECT.read_text())["project"]["version"]


class LangGraphComponentProvider(ComponentProvider):
    """Pulumi's component provider, handing integer inputs to the components as `int`.

    Numbers cross the wire as floats; the SDK's mapping converts integer properties but then stores the
    original float, so `max_run_seconds` would reach the server's environment as "600.0".
    """

    def map_input_properties(
        self,
        inputs: Any,
        properties: dict[str, PropertyDefinition],
        mapping: dict[str, str],
        component_name: str,
        property_path: str,
    ) -> dict[str, Any]:
        mapped = super().map_input_properties(inputs, properties, mapping, component_name, property_path)
        for schema_name, prop in properties.items():
            value = mapped.get(mapping[schema_name])
            if prop.type is PropertyType.INTEGER and isinstance(value, float):
                path = f"{property_path}.{schema_name}" if property_path else schema_name
                if not value.is_integer():
                    reason = f"'{path}' of '{component_name}' must be a whole number (got {value})"
                    raise InputPropertyError(path, reason)
                mapped[mapping[schema_name]] = int(value)
        return mapped


def build_provider() -> LangGraphComponentProvider:
    """The provider with its schema inferred from every component the package exports (`infra.COMPONENTS`)."""
    return LangGraphComponentProvider(list(COMPONENTS), PROVIDER_NAME, version=package_version())


def main(args: list[str] | None = None) -> None:
    """Serve the provider to the Pulumi engine (arguments as the language host passes them)."""
    pulumi.provider.main(build_provider(), sys.argv[1:] if args is None else args)


if __name__ == "__main__":
    main()
