"""Every third-party import of the installed package is a declared dependency of it, not a lucky transitive one.

The components (`infra/`, and `app/contract.py` they read) may import only `[project] dependencies`; the server
(`app/`) may also import the `server` extra. Each import is traced to the distribution that owns its file in
this interpreter's environment, so a name that differs from its distribution (yaml, google.protobuf) is found.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = {"infra", "app", "langgraph_k8s"}
COMPONENT_SOURCES = [*sorted((ROOT / "infra").glob("*.py")), ROOT / "app" / "__init__.py", ROOT / "app" / "contract.py"]
SERVER_SOURCES = sorted((ROOT / "app").rglob("*.py"))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(sources: Iterable[Path]) -> set[str]:
    """Absolute imports of third-party modules in `sources` (standard library and this project left out)."""
    found = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    top = {name: name.split(".")[0] for name in found}
    return {name for name, first in top.items() if first not in sys.stdlib_module_names | OWN_PACKAGES}


@cache
def _files_by_distribution() -> dict[str, set[str]]:
    return {
        _canonical(dist.metadata["Name"]): {file.as_posix() for file in dist.files or ()}
        for dist in metadata.distributions()
    }


def owning_distribution(module: str) -> str:
    """The installed distribution that ships `module` (the longest dotted prefix that some distribution has)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        stem = "/".join(parts[:end])
        owners = {
            name
            for name, files in _files_by_distribution().items()
            if any(f == f"{stem}.py" or f.startswith((f"{stem}/", f"{stem}.")) for f in files)
        }
        if len(owners) == 1:
            return owners.pop()
    raise LookupError(f"no single installed distribution ships {module!r}")


def _requirement(spec: str) -> tuple[str, list[str]]:
    match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?", spec)
    return _canonical(match.group(1)), [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]


def declared_distributions(requirements: Iterable[str]) -> set[str]:
    """The distributions `requirements` name, plus what their requested extras bring (psycopg[pool] → psycopg-pool)."""
    declared = set()
    for spec in requirements:
        name, extras = _requirement(spec)
        declared.add(name)
        for required in metadata.requires(name) or ():
            marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", required)
            if marker and marker.group(1) in extras:
                declared.add(_requirement(required)[0])
    return declared


def undeclared(sources: Iterable[Path], requirements: Iterable[str]) -> dict[str, str]:
    """Imported module to its distribution, for every import whose distribution is not declared."""
    declared = declared_distributions(requirements)
    owners = {module: owning_distribution(module) for module in imported_modules(sources)}
    return {module: owner for module, owner in sorted(owners.items()) if owner not in declared}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_component_imports_are_declared_dependencies():
    assert undeclared(COMPONENT_SOURCES, _project()["dependencies"]) == {}


def test_server_imports_are_declared_in_the_server_extra():
    project = _project()
    assert undeclared(SERVER_SOURCES, [*project["dependencies"], *project["optional-dependencies"]["server"]]) == {}


def test_an_undeclared_import_is_reported_with_its_distribution(tmp_path):
    without_croniter = [spec for spec in _project()["dependencies"] if _requirement(spec)[0] != "croniter"]
    assert undeclared(COMPONENT_SOURCES, without_croniter) == {"croniter": "croniter"}
    module = tmp_path / "uses_yaml.py"
    module.write_text("import json\nfrom google.protobuf import json_format\nimport yaml\nfrom . import sibling\n")
    assert undeclared([module], ["PyYAML"]) == {"google.protobuf": "protobuf"}


def test_extras_bring_their_own_distributions():
    assert {"psycopg", "psycopg-pool"} <= declared_distributions(["psycopg[pool]>=3.2"])
    assert "psycopg-pool" not in declared_distributions(["psycopg>=3.2"])
