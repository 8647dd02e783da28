"""A throwaway PostgreSQL cluster on 127.0.0.1, for tests and benchmarks.

`initdb` refuses to run as root, so as root the cluster is created and run as the
`postgres` system user. The cluster lives in a temporary directory and is removed
by `destroy()`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def _pg_bin(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    for directory in PG_BIN_CANDIDATES:
        candidate = Path(directory, tool)
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(f"PostgreSQL tool {tool!r} not found; install the postgresql package")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """A PostgreSQL cluster that can be started, stopped (to simulate an outage) and destroyed."""

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        """With `password`, TCP clients authenticate with SCRAM-SHA-256 as a deployed database asks;
        otherwise every client is trusted. Admin commands use the Unix socket, which is always trusted."""
        self.port = port or free_port()
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="lgk8s-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self.socket_dir.mkdir()
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user must enter the cluster's directory
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        auth = ["--auth=trust"]
        if password is not None:
            password_file = self.root / "password"
            password_file.write_text(password)
            if self._as_postgres:
                os.chown(password_file, user.pw_uid, user.pw_gid)
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"]
        self._run(_pg_bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", *auth, "--encoding=UTF8", "--no-sync")

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        credentials = f"postgres:{self.password}" if self.password is not None else "postgres"
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        if self._as_postgres:
            argv = ("runuser", "-u", "postgres", "--", *argv)
        subprocess.run(argv, check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        self._run(_pg_bin("createdb"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", name)
        return self.dsn_for(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop(mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
