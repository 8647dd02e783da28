"""`make run` under a process manager: SIGTERM to make stops the server too (no orphan left serving)."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import psutil
import pytest

from app.contract import HEALTH_PATH
from tests.faults.conftest import wait_until
from tests.pg import free_port
from tests.server_process import PROJECT_ROOT

MAKE_ENV = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + HEALTH_PATH, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_sigterm_to_make_run_stops_the_server(tmp_path: object) -> None:
    stamp = subprocess.run(["make", "-q", ".venv/.installed"], cwd=PROJECT_ROOT, env=MAKE_ENV, check=False)
    if stamp.returncode != 0:
        pytest.skip("the venv stamp is out of date; `make run` would reinstall it first")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    make = subprocess.Popen(
        ["make", "run", f"PORT={port}", "HOST=127.0.0.1"],
        cwd=PROJECT_ROOT,
        env={**MAKE_ENV, "DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(url), timeout=30, what="make run serving")
        make.send_signal(signal.SIGTERM)
        make.wait(30)
        wait_until(lambda: not _answers(url), timeout=30, what="the server gone after make stopped")
    finally:
        if make.poll() is None:
            make.kill()
        for orphan in _listeners(port):  # what a failing run leaves behind
            orphan.kill()


def _listeners(port: int) -> list[psutil.Process]:
    return [
        psutil.Process(conn.pid)
        for conn in psutil.net_connections("tcp")
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid
    ]
