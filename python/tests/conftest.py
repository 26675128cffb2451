"""Shared fixtures: connections to the real stack that `make up` started (the helpers
behind them are in python/testing/stack.py, shared with the soak and the benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from testing.stack import CONFIG, ROOT, RUN_DIR, SECRETS, ScratchDatabase, conninfo, secret

__all__ = ["CONFIG", "ROOT", "RUN_DIR", "SECRETS", "conninfo", "secret"]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def superconn() -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit mode."""
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest) -> Iterator[ScratchDatabase]:
    """The test module's own migrated scratch database, named after the module's
    SCRATCH_DB; dropped when the module is done."""
    scratch = ScratchDatabase(request.module.SCRATCH_DB).create()
    try:
        yield scratch
    finally:
        scratch.drop()


@pytest.fixture(scope="module")
def agent(db: ScratchDatabase, request: pytest.FixtureRequest) -> str:
    """The login role of an agent of the module's scratch database, named after the
    module's AGENT."""
    return db.make_agent(request.module.AGENT)


def waiting_on_lock(conn: psycopg.Connection, pid: int) -> bool:
    """Whether the backend pid waits for a heavyweight lock now."""
    row = conn.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return bool(row and row[0] == "Lock")


@pytest.fixture(scope="session")
def pg_env() -> dict[str, str]:
    """libpq environment for scripts that connect as the superuser."""
    env = dict(os.environ)
    env.update(
        PGHOST=str(RUN_DIR),
        PGPORT=CONFIG["PGPORT_MEMORY"],
        PGUSER="postgres",
        PGPASSFILE=str(SECRETS / "pgpass"),
        PGDATABASE=CONFIG["MEMORY_DB"],
    )
    return env


def create_login_agent(su: psycopg.Connection, name: str, role: str, password: str):
    """Creates a LOGIN role (its password sent as a SCRAM verifier, so no password
    reaches the server's logs) bound to a new agent; returns the agent's id."""
    verifier = su.pgconn.encrypt_password(
        password.encode(), role.encode(), b"scram-sha-256"
    ).decode()
    su.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier)
        )
    )
    return su.execute("SELECT memory.create_agent(%s, %s)", (name, role)).fetchone()[0]


def keyed_tables(conn: psycopg.Connection) -> list[str]:
    """Tables of schema memory with an agent_id column, from the catalog."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_attribute AS a
                      WHERE a.attrelid = c.oid AND a.attname = 'agent_id' AND NOT a.attisdropped)
        ORDER BY 1
        """
    ).fetchall()
    return [r[0] for r in rows]


def drop_login_agents(su: psycopg.Connection, roles: list[str], ids: list) -> None:
    """Ends the roles' sessions, deletes their agents with everything stored, drops them."""
    su.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE usename = ANY(%s) AND pid <> pg_backend_pid()",
        (roles,),
    )
    if ids:
        su.execute("DELETE FROM memory.agents WHERE agent_id = ANY(%s)", (ids,))
    for role in roles:
        su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
