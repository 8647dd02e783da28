"""The store's semantic search on real PostgreSQL 17 with pgvector, through the official langgraph-sdk client.

The host's PostgreSQL has no pgvector, so this runs the `pgvector` stand-in (`images.PGVECTOR_ROOTFS`: the
trixie Postgres of the default stand-in plus `postgresql-17-pgvector`, as `pgvector/pgvector:pg17`) in a
container on the host's network, on a free port of 127.0.0.1, with the image's POSTGRES_* contract. Then, as
a deploy does: `python -m app.migrate` as the database owner (the superuser POSTGRES_USER of the in-cluster
database: it creates the `vector` extension and the least-privilege roles), and the server (`python -m app`
from this venv) as the `langgraph_server` role, with tests/app/graphs/langgraph_vectors.json. The searches are
`tests/sdk/semantic.py`'s, answered as on the embedded SQLite store. Another database is set up by the server
itself (`MIGRATE_ON_STARTUP`); another plays a managed PostgreSQL, whose owner is no superuser: its migration
fails in one line until an admin creates the extension.

Run by `make e2e` (podman, runc and mmdebstrap needed; without them this fails, never skips). The container
and the image tag are removed at the end, also on failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from langgraph_sdk import get_sync_client

from app.contract import SERVER_ROLE, Env
from tests.app.conftest import GRAPHS_WITH_A_STORE_INDEX
from tests.e2e.images import PGVECTOR_ROOTFS, POSTGRES_ROOTFS, Images
from tests.e2e.podman import INSTALL_HINT, PodmanError, missing_tools, podman
from tests.pg import free_port
from tests.sdk.semantic import Answers, assert_same_answers, check_semantic_search
from tests.server_process import PROJECT_ROOT, ServerProcess

STARTUP_SECONDS = 90.0
"""The longest Postgres may take to initialise its data directory and accept connections (a few seconds here)."""
MIGRATE_SECONDS = 120.0
SERVER_READY_SECONDS = 60.0
API_KEY = "pgvector-e2e-key"
OWNER, DATABASE = "langgraph", "langgraph"
POSTGRES_UID = "999:999"  # any uid: the entrypoint runs initdb under nss_wrapper, as the official image allows
PGDATA = "/var/lib/postgresql/data/pgdata"
"""A directory the uid creates (and so may chmod 0700) in the image's world-writable data directory: no volume
here, where the StatefulSet mounts a claim that fsGroup makes the uid's."""


@dataclass
class Postgres:
    """A running pgvector container reached on 127.0.0.1:`port`."""

    container: str
    port: int
    password: str

    def dsn(self, user: str = OWNER, password: str | None = None, database: str = DATABASE) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def logs(self) -> str:
        result = podman("logs", "--tail", "40", self.container, check=False)
        return (result.stdout + result.stderr)[-4000:]  # podman logs gives the container's stderr on its own


@pytest.fixture(scope="module")
def pgvector_image() -> Iterator[str]:
    if missing_tools():
        pytest.fail(f"missing {', '.join(missing_tools())}: {INSTALL_HINT}")
    images = Images(run_id=uuid.uuid4().hex[:8])
    try:
        yield images.import_base(PGVECTOR_ROOTFS, log=lambda line: print(f"[e2e pgvector] {line}", flush=True))
    finally:
        for tag in images.tags:
            podman("rmi", "--force", tag, check=False)


def _wait_until_accepting(postgres: Postgres) -> float:
    begun = time.monotonic()
    deadline = begun + STARTUP_SECONDS
    last = "no attempt yet"
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", postgres.container, check=False).stdout.strip()
        if state != "running":
            # "stopped" comes before "exited", and before the last log lines are written out.
            podman("wait", postgres.container, timeout=30, check=False)
            raise AssertionError(f"the pgvector container is {state or 'gone'}:\n{postgres.logs()}")
        try:
            with psycopg.connect(postgres.dsn(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return time.monotonic() - begun
        except psycopg.OperationalError as error:
            last = str(error).strip()
        time.sleep(0.5)
    raise AssertionError(
        f"Postgres not accepting connections within {STARTUP_SECONDS:.0f} s ({last}):\n{postgres.logs()}"
    )


def start_container(image: str, postgres: Postgres, *owner_and_database: str) -> None:
    """`podman run` the image on the host's network, on `postgres.port`; with `owner_and_database`, the POSTGRES_*
    variables the entrypoint needs (without them, it refuses an empty data directory)."""
    # The host's loopback is shared with everything on the machine: passwords on TCP (initdb's default trusts
    # 127.0.0.1, which inside a pod's network namespace is the pod's own), and no other address listened on.
    env = [f"--env=PGDATA={PGDATA}", "--env=POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --auth-local=trust"]
    if owner_and_database:
        owner, database = owner_and_database
        env += [f"--env=POSTGRES_PASSWORD={postgres.password}", f"--env=POSTGRES_USER={owner}"]
        env += [f"--env=POSTGRES_DB={database}"]
    podman(
        "run",
        "--detach",
        f"--name={postgres.container}",
        "--network=host",
        "--pull=never",
        f"--user={POSTGRES_UID}",
        "--log-driver=k8s-file",
        # The socket directory: an emptyDir in the StatefulSet too.
        "--tmpfs=/var/run/postgresql:rw,mode=1777",
        *env,
        image,
        "postgres",
        "-p",
        str(postgres.port),
        "-c",
        "listen_addresses=127.0.0.1",
    )


@pytest.fixture(scope="module")
def postgres(pgvector_image: str) -> Iterator[Postgres]:
    """The image's entrypoint initialising a fresh cluster (owner `langgraph`, a superuser as in the official
    image), listening on a free port of the host's network."""
    name = f"langgraph-e2e-pgvector-{uuid.uuid4().hex[:8]}"
    running = Postgres(container=name, port=free_port(), password=secrets.token_hex(16))
    try:
        start_container(pgvector_image, running, OWNER, DATABASE)
        seconds = _wait_until_accepting(running)
        print(f"[e2e pgvector] postgres on 127.0.0.1:{running.port} accepting connections in {seconds:.1f} s")
        yield running
    finally:
        podman("rm", "--force", "--time=0", name, check=False)


def migrate(dsn: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m app.migrate` (the migration Job's command) from this venv, bounded in time."""
    env = {**os.environ, Env.DATABASE_URL: dsn, Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX), **extra}
    return subprocess.run(
        [sys.executable, "-m", "app.migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def server_password(postgres: Postgres) -> str:
    """The owner's migration, with the server role's password as the Job passes it; the role's password."""
    password = secrets.token_hex(16)
    result = migrate(postgres.dsn(), **{Env.DB_SERVER_PASSWORD: password})
    assert result.returncode == 0, f"python -m app.migrate exited {result.returncode}:\n{result.stderr[-3000:]}"
    return password


def test_the_migration_creates_the_vector_extension_and_tables(postgres: Postgres, server_password: str) -> None:
    with psycopg.connect(postgres.dsn()) as conn:
        (version,) = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        (column,) = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'store_vectors'::regclass AND attname = 'embedding'"
        ).fetchone()
        (migrations,) = conn.execute("SELECT count(*) FROM vector_migrations").fetchone()
    assert version and column == "vector(16)" and migrations > 0
    # The roles' passwords are checked, as on a deployed database (not trusted on the host's loopback).
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.dsn(SERVER_ROLE, "not-" + server_password), connect_timeout=5).close()
    # A second run is a no-op: the Job runs on every deploy.
    again = migrate(postgres.dsn())
    assert again.returncode == 0, again.stderr[-3000:]


@pytest.fixture(scope="module")
def answers_on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Answers:
    """The same searches against the embedded SQLite store, for comparison."""
    env = {
        Env.API_KEYS: API_KEY,
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX),
        Env.DATA_DIR: str(tmp_path_factory.mktemp("sqlite")),
    }
    server = ServerProcess(env=env, log_path=tmp_path_factory.mktemp("sqlite-server") / "server.log")
    try:
        server.start(ready_timeout=SERVER_READY_SECONDS)
        with get_sync_client(url=server.url, api_key=API_KEY) as client:
            return check_semantic_search(client)
    finally:
        server.stop()


def test_semantic_search_on_pgvector_answers_as_on_sqlite(
    postgres: Postgres, server_password: str, answers_on_sqlite: Answers, tmp_path: Path
) -> None:
    """The server connects as `langgraph_server` (no DDL), as the Deployment does."""
    env = {
        Env.API_KEYS: API_KEY,
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX),
        Env.DATABASE_URL: postgres.dsn(SERVER_ROLE, server_password),
        Env.MIGRATE_ON_STARTUP: "false",
    }
    server = ServerProcess(env=env, log_path=tmp_path / "server.log")
    try:
        server.start(ready_timeout=SERVER_READY_SECONDS)
        with get_sync_client(url=server.url, api_key=API_KEY) as client:
            answers = check_semantic_search(client)
            assert_same_answers(answers, answers_on_sqlite)
            # The vectors are pgvector's: the rows are there, one per embedded item (not the index=False one).
            with psycopg.connect(postgres.dsn()) as conn:
                (rows,) = conn.execute("SELECT count(*) FROM store_vectors").fetchone()
            assert rows >= 3
    finally:
        server.stop()


def test_migrate_on_startup_sets_up_pgvector(postgres: Postgres, tmp_path: Path) -> None:
    """The other way the schema is made (`MIGRATE_ON_STARTUP`, one replica): on a fresh database the server
    creates the extension and vector tables itself and is ready only then."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE on_startup")
    env = {
        Env.API_KEYS: API_KEY,
        Env.LANGGRAPH_CONFIG: str(GRAPHS_WITH_A_STORE_INDEX),
        Env.DATABASE_URL: postgres.dsn(database="on_startup"),
        Env.MIGRATE_ON_STARTUP: "true",
    }
    server = ServerProcess(env=env, log_path=tmp_path / "server.log")
    try:
        server.start(ready_timeout=SERVER_READY_SECONDS)
        with get_sync_client(url=server.url, api_key=API_KEY) as client:
            client.store.put_item(["s"], key="tea", value={"text": "green tea"})
            client.store.put_item(["s"], key="py", value={"text": "python code"})
            (best, *_) = client.store.search_items(["s"], query="python", limit=1)["items"]
        assert best["key"] == "py" and best["score"] > 0
    finally:
        server.stop()


def test_the_default_postgres_stand_in_has_no_pgvector() -> None:
    """The render's `postgres` stand-in stays the official image's contents; only the pgvector one adds it."""
    assert not [package for package in POSTGRES_ROOTFS.packages if "pgvector" in package]
    assert PGVECTOR_ROOTFS.packages == (*POSTGRES_ROOTFS.packages, "postgresql-17-pgvector")
    assert (PGVECTOR_ROOTFS.hooks, PGVECTOR_ROOTFS.changes) == (POSTGRES_ROOTFS.hooks, POSTGRES_ROOTFS.changes)


def test_a_managed_owner_without_extension_rights_is_told_what_to_ask_for(postgres: Postgres) -> None:
    """A managed PostgreSQL's database owner is no superuser and pgvector is not a trusted extension: the
    migration fails in one line naming the statement, and passes once an admin has created the extension."""
    owner, password, database = "managed_owner", secrets.token_hex(16), "managed"
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'")
        admin.execute(f"CREATE DATABASE {database} OWNER {owner}")
    refused = migrate(postgres.dsn(owner, password, database))
    assert refused.returncode == 1
    assert "CREATE EXTENSION vector;" in refused.stderr and f"role {owner}" in refused.stderr, refused.stderr[-3000:]
    with psycopg.connect(postgres.dsn(database=database), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION vector")
    allowed = migrate(postgres.dsn(owner, password, database))
    assert allowed.returncode == 0, allowed.stderr[-3000:]


def test_no_container_is_left_behind_by_a_failed_start(pgvector_image: str) -> None:
    """The wait is bounded and names the failure; the fixture's cleanup runs whatever happens (here: no password,
    which the entrypoint refuses)."""
    name = f"langgraph-e2e-pgvector-{uuid.uuid4().hex[:8]}"
    broken = Postgres(container=name, port=free_port(), password="unused")
    try:
        start_container(pgvector_image, broken)
        with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is not set"):
            _wait_until_accepting(broken)
    except PodmanError as error:
        pytest.fail(str(error))
    finally:
        podman("rm", "--force", "--time=0", name, check=False)
    assert podman("ps", "--all", "--quiet", "--filter", f"name=^{name}$").stdout.strip() == ""
