"""Server processes the benchmark measures: ours (`python -m app`) and the official `langgraph dev`.

Each is started as a subprocess on a free loopback port; the time from spawn to the first 200 on its
readiness path is recorded, and its resident memory (the process and its children) can be sampled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from app.contract import READY_PATH, Env
from tests.pg import free_port

ROOT = Path(__file__).resolve().parent.parent
OFFICIAL_VENV = ROOT / ".venv-bench-official"
OFFICIAL_READY_PATH = "/ok"

# `langgraph dev` kept offline: no tracing, no CLI analytics, no version check, no browser.
OFFICIAL_OFFLINE_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGCHAIN_TRACING": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGCHAIN_CALLBACKS_BACKGROUND": "false",
    # Same logging budget as ours in the benchmark: warnings only, no colour codes.
    "LOG_LEVEL": "WARNING",
    "LOG_COLOR": "false",
}
# Variables that would make the official server talk to LangSmith or use a license.
OFFICIAL_DROPPED_ENV = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY", "LANGSMITH_ENDPOINT")


@dataclass
class ServerProcess:
    """A running server subprocess and what was measured about its start."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    seconds_to_ready: float = 0.0
    workdir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def rss_bytes(self) -> int:
        """Resident memory of the process and all its children."""
        try:
            root = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` (children included)."""
        if self.process.poll() is None:
            children = psutil.Process(self.process.pid).children(recursive=True)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for child in children:
                if child.is_running():
                    child.kill()


def wait_ready(server: ServerProcess, ready_path: str, timeout: float, started: float) -> None:
    """Poll `ready_path` until it answers 200; record the time since `started`."""
    deadline = started + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                if client.get(ready_path).status_code == 200:
                    server.seconds_to_ready = time.perf_counter() - started
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    server.stop()
    raise TimeoutError(f"{server.name} not ready within {timeout:.0f}s:\n{server.log_tail()}")


def start_our_server(database_url: str, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> ServerProcess:
    """Start `python -m app` (one uvicorn worker, as deployed) against `database_url`."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lgk8s-bench-ours-"))
    log_path = workdir / "server.log"
    child_env = {
        **os.environ,
        Env.HOST: "127.0.0.1",
        Env.PORT: str(port),
        Env.DATABASE_URL: database_url,
        Env.LOG_LEVEL: "INFO",  # the deployed default
        Env.DATA_DIR: str(workdir),
        **(env or {}),
    }
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess("our server", process, f"http://127.0.0.1:{port}", log_path, workdir=workdir)
    wait_ready(server, READY_PATH, timeout, started)
    return server


def start_naive_server(database_url: str, *, timeout: float = 60.0) -> ServerProcess:
    """Start `bench.naive_app` under uvicorn with one worker, like ours."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lgk8s-bench-naive-"))
    log_path = workdir / "server.log"
    argv = [
        sys.executable, "-m", "uvicorn", "bench.naive_app:app", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, Env.DATABASE_URL: database_url}, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess("naive server", process, f"http://127.0.0.1:{port}", log_path, workdir=workdir)
    wait_ready(server, "/health", timeout, started)
    return server


def official_available() -> bool:
    return (OFFICIAL_VENV / "bin" / "langgraph").exists()


def start_official_server(graphs: dict[str, str], *, jobs: int | None = None, timeout: float = 120.0) -> ServerProcess:
    """Start `langgraph dev` (in-memory runtime, no reload) in a fresh data dir, serving `graphs` (name to ref).

    `jobs` is `--n-jobs-per-worker`; None keeps the CLI's default (one queue worker), which is also its
    fastest setting for this graph: with more workers its queue sleeps 0.5 s whenever a poll finds no run.

    A graph ref is "<absolute path to a .py file>:<attribute>"; the project root is put on its
    import path so the graph module can import from `app`.
    """
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lgk8s-bench-official-"))
    config = workdir / "langgraph.json"
    config.write_text(json.dumps({"dependencies": [str(ROOT)], "graphs": graphs}))
    log_path = workdir / "server.log"
    child_env = {k: v for k, v in os.environ.items() if k not in OFFICIAL_DROPPED_ENV and k != "VIRTUAL_ENV"}
    child_env.update(OFFICIAL_OFFLINE_ENV)
    child_env["PATH"] = f"{OFFICIAL_VENV / 'bin'}:{child_env.get('PATH', '')}"
    argv = [
        str(OFFICIAL_VENV / "bin" / "langgraph"), "dev", "--no-reload", "--no-browser",
        "--host", "127.0.0.1", "--port", str(port), "--config", str(config),
        "--server-log-level", "WARNING",
    ]  # fmt: skip
    if jobs is not None:
        argv += ["--n-jobs-per-worker", str(jobs)]
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=workdir, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess("official server", process, f"http://127.0.0.1:{port}", log_path, workdir=workdir)
    wait_ready(server, OFFICIAL_READY_PATH, timeout, started)
    return server
