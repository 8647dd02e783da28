"""Least-privilege roles: the server, the prune job and the backup can do their work and nothing more."""

from __future__ import annotations

import asyncio
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.contract import BACKUP_ROLE, DATABASE_ROLES, PRUNE_ROLE, SERVER_ROLE, Env
from app.migrate import migrate
from app.retention import RetentionPolicy, prune
from app.roles import role_passwords
from app.server.main import create_app
from app.server.settings import Settings
from tests.pg import PostgresCluster, _pg_bin

PASSWORDS = {role: f"{role}-secret" for role in DATABASE_ROLES}


def as_role(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{role}:{PASSWORDS[role]}@{parts.hostname}:{parts.port}"))


@pytest.fixture
def migrated(postgres_dsn: str, tmp_path) -> str:
    env = {Env.DATABASE_URL: postgres_dsn, Env.DATA_DIR: str(tmp_path)}
    asyncio.run(migrate(Settings(**env), roles=PASSWORDS))
    return postgres_dsn


def refused(dsn: str, statement: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_passwords_come_from_the_migration_environment():
    environ = {Env.DB_SERVER_PASSWORD: "a", Env.DB_BACKUP_PASSWORD: "b", Env.DB_PRUNE_PASSWORD: ""}
    assert role_passwords(environ) == {SERVER_ROLE: "a", BACKUP_ROLE: "b"}


def test_server_role_runs_graphs_but_cannot_change_the_schema(migrated: str, tmp_path) -> None:
    server = as_role(migrated, SERVER_ROLE)
    app = create_app(Settings(**{Env.DATABASE_URL: server, Env.DATA_DIR: str(tmp_path)}))
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        response = client.post("/graphs/steps/invoke", json={"thread_id": "t1", "input": {"value": 1}})
        assert response.status_code == 200, response.text
    assert refused(server, "CREATE TABLE intruder (id int)")
    assert refused(server, "DROP TABLE checkpoints")
    assert refused(server, "TRUNCATE checkpoints")


def test_prune_role_deletes_but_cannot_write(migrated: str) -> None:
    prune_dsn = as_role(migrated, PRUNE_ROLE)

    async def run_prune() -> int:
        async with await psycopg.AsyncConnection.connect(prune_dsn, autocommit=True) as conn:
            return (await prune(conn, RetentionPolicy(1, 1), batch_size=10)).batches

    assert asyncio.run(run_prune()) >= 0
    assert refused(prune_dsn, "INSERT INTO checkpoint_migrations (v) VALUES (999)")
    assert refused(prune_dsn, "CREATE TABLE intruder (id int)")


def test_backup_role_dumps_but_cannot_write(migrated: str, tmp_path) -> None:
    backup = as_role(migrated, BACKUP_ROLE)
    dump = tmp_path / "db.dump"
    subprocess.run(
        [_pg_bin("pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={backup}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert dump.stat().st_size > 0
    assert refused(backup, "DELETE FROM checkpoints")


def test_migrating_again_rotates_a_password(tmp_path) -> None:
    """On a cluster that checks passwords (SCRAM) as a deployed one does: the old password stops working."""
    with PostgresCluster(password="admin-secret") as cluster:
        admin = cluster.create_database("rotation")
        settings = Settings(**{Env.DATABASE_URL: admin, Env.DATA_DIR: str(tmp_path)})
        asyncio.run(migrate(settings, roles=PASSWORDS))
        server = as_role(admin, SERVER_ROLE)
        assert not refused(server, "SELECT count(*) FROM checkpoints")
        asyncio.run(migrate(settings, roles={SERVER_ROLE: "rotated"}))
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(server).close()
        rotated = server.replace(PASSWORDS[SERVER_ROLE], "rotated")
        assert not refused(rotated, "SELECT count(*) FROM checkpoints")
