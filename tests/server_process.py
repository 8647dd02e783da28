"""Run the real server (`python -m app`) as a subprocess on a free port and wait until it is ready.

Used by the restart test here and by fault/soak tests: `with ServerProcess(env={...}) as server:`,
then talk to `server.url` with httpx; `server.terminate()` sends SIGTERM (graceful drain),
`server.kill()` SIGKILL (a crash); `server.start()` again to restart on the same port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.contract import READY_PATH, Env
from tests.pg import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, Env.HOST: "127.0.0.1", Env.PORT: str(self.port), **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    def start(self, ready_timeout: float = 30.0) -> None:
        if self.log_path is not None:
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log_file or subprocess.DEVNULL,
            stderr=self._log_file or subprocess.DEVNULL,
        )
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode} before it was ready; log: {self.log_path}"
                )
            try:
                if httpx.get(self.url + READY_PATH, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server on {self.url} not ready within {timeout}s; log: {self.log_path}")

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self.process is not None:
            self.wait()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
