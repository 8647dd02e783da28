"""Backup and restore against a real PostgreSQL, with the CronJob's own script and `pg_dump` command line.

A review thread is paused at `interrupt()` through the server; the backup script that `CheckpointBackup`
runs in the cluster dumps the database (and rotates old dumps); `pg_restore` loads the newest dump into a
fresh database; a server on the restored database returns the same state and history and resumes the thread.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from app.contract import Env
from infra.backup import DUMP_SUFFIX, backup_script, pg_restore_argv
from tests.app.conftest import serve
from tests.pg import PostgresCluster, _pg_bin

THREAD = "paused-review"
DOCUMENT = {
    "title": "Retention policy",
    "document": "Threads idle for thirty days are deleted. Threads waiting on a human are kept ninety days. TODO.",
}


def _database(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def _run_backup(cluster: PostgresCluster, database: str, backup_dir: Path, keep: int) -> subprocess.CompletedProcess:
    """The CronJob's script under /bin/sh, with the local PostgreSQL tools first on PATH."""
    password_file = backup_dir.parent / "password"
    password_file.write_text("unused: the test cluster trusts local TCP connections")
    env = {
        **os.environ,
        "PATH": f"{Path(_pg_bin('pg_dump')).parent}:{os.environ['PATH']}",
        "BACKUP_DIR": str(backup_dir),
        "KEEP": str(keep),
        "PASSWORD_FILE": str(password_file),
    }
    script = backup_script("127.0.0.1", cluster.port, "postgres", database)
    return subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)


def _restore(cluster: PostgresCluster, dump: Path) -> str:
    dsn = cluster.create_database("restored_from_backup")
    argv = pg_restore_argv("127.0.0.1", cluster.port, "postgres", _database(dsn), str(dump))
    restored = subprocess.run([_pg_bin(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr
    return dsn


def test_backup_restores_a_paused_thread_that_then_resumes(
    postgres_cluster: PostgresCluster, postgres_env: dict[str, str], tmp_path: Path
):
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    database = _database(postgres_env[Env.DATABASE_URL])
    older = [backup_dir / f"{database}-2020010{day}T000000Z{DUMP_SUFFIX}" for day in (1, 2, 3)]
    for path in older:
        path.write_bytes(b"an older dump")
    (backup_dir / f"{database}-20200104T000000Z{DUMP_SUFFIX}.partial").write_bytes(b"left by a failed run")

    with serve(postgres_env) as client:
        paused = client.post("/graphs/review/invoke", json={"thread_id": THREAD, "input": DOCUMENT})
        assert paused.status_code == 200, paused.text
        assert paused.json()["status"] == "interrupted"
        state = client.get("/graphs/review/state", params={"thread_id": THREAD}).json()
        history = client.get("/graphs/review/history", params={"thread_id": THREAD, "limit": 100}).json()
        backup = _run_backup(postgres_cluster, database, backup_dir, keep=2)  # while the server runs

    assert backup.returncode == 0, backup.stderr
    assert state["next"] == ["human_approval"] and state["interrupts"][0]["value"]["question"]
    kept = sorted(p.name for p in backup_dir.iterdir())
    assert len(kept) == 2, kept  # the new dump and the newest older one; the rest and the .partial are gone
    assert kept[0] == older[-1].name
    newest = backup_dir / kept[1]
    assert newest.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert f"backup written: {newest}" in backup.stdout

    restored_env = {**postgres_env, Env.DATABASE_URL: _restore(postgres_cluster, newest)}
    with serve(restored_env) as client:
        assert client.get("/graphs/review/state", params={"thread_id": THREAD}).json() == state
        restored_history = client.get("/graphs/review/history", params={"thread_id": THREAD, "limit": 100}).json()
        assert restored_history == history
        assert len(history["states"]) >= 3
        resumed = client.post(
            "/graphs/review/resume", json={"thread_id": THREAD, "resume": {"approved": True, "comment": "ok"}}
        )
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["status"] == "success"
        final = client.get("/graphs/review/state", params={"thread_id": THREAD}).json()
    assert final["next"] == []
    assert final["values"]["decision"] == "approved"
    assert final["values"]["summary"].startswith("[APPROVED] Threads idle for thirty days are deleted.")
