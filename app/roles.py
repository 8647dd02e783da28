"""Least-privilege database roles, created or updated by the migration (the schema's owner) after it migrates.

Each role in `contract.DATABASE_ROLES` whose password is in the environment gets LOGIN with that password and
the privileges below on every table and sequence of the schema, and nothing else (no DDL). Databases let every
role connect by default; the schema's tables are what is granted here.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg import AsyncConnection, sql

from .contract import BACKUP_ROLE, DATABASE_ROLES, PRUNE_ROLE, SERVER_ROLE

SCHEMA = "public"
TABLE_PRIVILEGES = {
    SERVER_ROLE: ("SELECT", "INSERT", "UPDATE", "DELETE"),
    PRUNE_ROLE: ("SELECT", "DELETE"),
    BACKUP_ROLE: ("SELECT",),
}
SEQUENCE_PRIVILEGES = {SERVER_ROLE: ("USAGE", "SELECT"), PRUNE_ROLE: ("SELECT",), BACKUP_ROLE: ("SELECT",)}


def role_passwords(environ: Mapping[str, str]) -> dict[str, str]:
    """The roles whose password the environment sets."""
    return {role: environ[env] for role, env in DATABASE_ROLES.items() if environ.get(env)}


async def ensure_roles(conn: AsyncConnection, passwords: Mapping[str, str]) -> list[str]:
    """Create each role (or set its password) and grant it its privileges on the current database; return them."""
    done = []
    for role, password in passwords.items():
        if role not in TABLE_PRIVILEGES:
            raise ValueError(f"unknown database role {role!r}; known: {sorted(TABLE_PRIVILEGES)}")
        name = sql.Identifier(role)
        cursor = await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = sql.SQL("ALTER") if await cursor.fetchone() else sql.SQL("CREATE")
        async with conn.transaction():
            await conn.execute(
                sql.SQL("{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    verb, name, sql.Literal(password)
                )
            )
            await conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), name))
            await conn.execute(
                sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.SQL(", ").join(map(sql.SQL, TABLE_PRIVILEGES[role])), sql.Identifier(SCHEMA), name
                )
            )
            await conn.execute(
                sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    sql.SQL(", ").join(map(sql.SQL, SEQUENCE_PRIVILEGES[role])), sql.Identifier(SCHEMA), name
                )
            )
        done.append(role)
    return done
