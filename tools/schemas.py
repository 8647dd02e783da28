"""Upstream schemas the render gate and the tests validate against: pinned, checksummed, cached in the project.

    python -m tools.schemas           # download what is missing into .schemas/ (or check $LANGGRAPH_K8S_SCHEMA_DIR)

Each file is fetched from a URL pinned to a release tag or commit and must match the sha256 recorded here.
`LANGGRAPH_K8S_SCHEMA_DIR` names a local copy with the same layout (`crds/…`, `schemas/…`) for offline machines;
this project's CI points it at the copy it provides in `../shared`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR_VARIABLE = "LANGGRAPH_K8S_SCHEMA_DIR"
CACHE_DIR = PROJECT_ROOT / ".schemas"
"""Where `make schemas` downloads to when the variable is unset (gitignored)."""
CRD_SUBDIR = "crds"
PROJECT_SCHEMA = "schemas/pulumi-project.json"

_PROMETHEUS_OPERATOR = (
    "https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.0/example/prometheus-operator-crd"
)
_GATEWAY_API = "https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/v1.6.1/config/crd/standard"
_PULUMI = (
    "https://raw.githubusercontent.com/pulumi/pulumi/0498be116be896fa28b5af4746ad197666167d85/sdk/go/common/workspace"
)
_DOWNLOAD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class PinnedFile:
    """One upstream file: where it goes under the schema directory, where it comes from, what it must hash to."""

    path: str
    url: str
    sha256: str


PINNED = (
    PinnedFile(
        "crds/monitoring.coreos.com_prometheusrules.yaml",
        f"{_PROMETHEUS_OPERATOR}/monitoring.coreos.com_prometheusrules.yaml",
        "78be98554b9c8506ab2b4f4feb91c5f3a56e536a0a510f3a8e876a459970d56d",
    ),
    PinnedFile(
        "crds/monitoring.coreos.com_servicemonitors.yaml",
        f"{_PROMETHEUS_OPERATOR}/monitoring.coreos.com_servicemonitors.yaml",
        "a99047972c9dd7679ce2050b9968e8a08773492e671b3e17abd476d42aa78a32",
    ),
    PinnedFile(
        "crds/monitoring.coreos.com_podmonitors.yaml",
        f"{_PROMETHEUS_OPERATOR}/monitoring.coreos.com_podmonitors.yaml",
        "45a93443daa687d3654f7e9631909ff7edcdf3ec09c5e60251b74aa2722aee5d",
    ),
    PinnedFile(
        "crds/gateway.networking.k8s.io_httproutes.yaml",
        f"{_GATEWAY_API}/gateway.networking.k8s.io_httproutes.yaml",
        "a424a0d6c953b162e71d1d97bb7e75012d8f1ac264e7274f2763d1b96ab39852",
    ),
    PinnedFile(
        "schemas/pulumi-project.json",
        f"{_PULUMI}/project.json",
        "ecdf1dd1a7d13343b42d0d06485a1d83d17bfe53df18d713acd04525127bd577",
    ),
)


class SchemasUnavailable(RuntimeError):
    """A pinned schema file is missing or differs from its recorded sha256; the message says how to get it."""


def schema_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The directory holding the schema files: `$LANGGRAPH_K8S_SCHEMA_DIR`, else the project's cache."""
    configured = environ.get(SCHEMA_DIR_VARIABLE)
    return Path(configured).resolve() if configured else CACHE_DIR


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(directory: Path, pinned: tuple[PinnedFile, ...] = PINNED) -> list[str]:
    """What is wrong with `directory` as a schema directory: missing files and checksum mismatches."""
    found = []
    for file in pinned:
        path = directory / file.path
        if not path.is_file():
            found.append(f"{file.path} missing")
        elif _sha256(path) != file.sha256:
            found.append(f"{file.path} has sha256 {_sha256(path)}, expected {file.sha256}")
    return found


def how_to_get(directory: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The fix, for the message: the variable names a copy, or `make schemas` fills the cache."""
    if environ.get(SCHEMA_DIR_VARIABLE):
        return f"{SCHEMA_DIR_VARIABLE} must name a copy of the files tools/schemas.py lists, or unset it to download"
    return f"run `make schemas` to download them (pinned, checksummed), or set {SCHEMA_DIR_VARIABLE} to a local copy"


def require(environ: Mapping[str, str] = os.environ) -> Path:
    """The verified schema directory; raises `SchemasUnavailable` with one line saying what is wrong and what to do."""
    directory = schema_dir(environ)
    found = problems(directory)
    if len(found) == len(PINNED) and not directory.exists():
        found = [f"none of the {len(PINNED)} pinned files (no such directory)"]
    if found:
        raise SchemasUnavailable(f"schemas in {directory}: {'; '.join(found)}; {how_to_get(directory, environ)}")
    return directory


def crd_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The verified directory of CustomResourceDefinitions."""
    return require(environ) / CRD_SUBDIR


def download(directory: Path, pinned: tuple[PinnedFile, ...] = PINNED) -> list[str]:
    """Fetch every missing or mismatching file into `directory`; returns the paths fetched.

    A file is written only after its sha256 matched, so the cache never holds an unverified file.
    """
    fetched = []
    for file in pinned:
        target = directory / file.path
        if target.is_file() and _sha256(target) == file.sha256:
            continue
        try:
            with urllib.request.urlopen(file.url, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310
                body = response.read()
        except OSError as error:
            raise SchemasUnavailable(
                f"cannot download {file.path} from {file.url} ({error}); "
                f"offline, set {SCHEMA_DIR_VARIABLE} to a directory holding the files listed in tools/schemas.py"
            ) from None
        digest = hashlib.sha256(body).hexdigest()
        if digest != file.sha256:
            raise SchemasUnavailable(f"{file.url} has sha256 {digest}, expected {file.sha256}; not written")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            partial.write(body)
        Path(partial.name).replace(target)
        fetched.append(file.path)
    return fetched


def main(environ: Mapping[str, str] = os.environ) -> int:
    """Check the configured copy, or fill the cache; print one line either way."""
    directory = schema_dir(environ)
    try:
        if not environ.get(SCHEMA_DIR_VARIABLE):
            fetched = download(directory)
            if fetched:
                print(f"downloaded {len(fetched)} schema file(s) into {directory}")
        require(environ)
    except SchemasUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"schemas verified in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
