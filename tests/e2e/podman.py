"""Calling podman with the e2e's own containers.conf, and the check that everything the e2e needs is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CONTAINERS_CONF = Path(__file__).resolve().parent / "containers.conf"
REQUIRED_TOOLS = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap", "iptables": "iptables"}
INSTALL_HINT = (
    "the e2e runs containers with podman: install it with "
    "`apt-get install -y podman runc catatonit containernetworking-plugins iptables mmdebstrap` "
    "(Debian/Ubuntu, as root; .ci/run does this)"
)


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the command and its stderr."""


def environment() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def missing_tools() -> list[str]:
    return [name for name, command in REQUIRED_TOOLS.items() if shutil.which(command) is None]


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["podman", *args]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=environment(), check=False
        )
    except subprocess.TimeoutExpired as error:
        raise PodmanError(f"`{' '.join(command[:4])} ...` did not finish in {timeout:.0f} s") from error
    if check and result.returncode != 0:
        raise PodmanError(f"`{' '.join(command)}` exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result
