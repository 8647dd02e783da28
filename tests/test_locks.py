"""The hash locks (`make lock`) match the requirements files they come from.

The image installs app/requirements.lock and the test venv installs it plus requirements-dev.lock, both with
`--require-hashes`; a pin added to a requirements file without `make lock` fails here, not in a build.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "app/requirements.lock": ["app/requirements.txt"],
    "requirements-dev.lock": ["requirements-dev.txt", "requirements.txt", "app/requirements.txt"],
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#\\]+)", flags=re.MULTILINE)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: str) -> dict[str, str]:
    return {normalized(name): version for name, version in PIN.findall((ROOT / path).read_text())}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_of_the_inputs_is_in_the_lock(lock: str) -> None:
    locked = pins(lock)
    for source in LOCKS[lock]:
        for name, version in pins(source).items():
            assert locked.get(name) == version, (
                f"{source} pins {name}=={version}, {lock} has {locked.get(name)}: run `make lock`"
            )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_distribution_has_hashes(lock: str) -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    requirements = [entry for entry in entries if PIN.match(entry)]
    assert len(requirements) == len(pins(lock)) > 10
    for entry in requirements:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_app_lock_and_the_dev_lock_agree() -> None:
    app, dev = pins("app/requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev[name] for name in app} == app
