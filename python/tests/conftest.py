"""Shared fixtures: connections to the real stack that `make up` started."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict[str, str]:
    """The values of config.env, with the environment's overrides, as scripts see them."""
    out = subprocess.run(
        ["bash", "-c", f"set -a && . '{ROOT}/config.env' && env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


CONFIG = _config()
SECRETS = ROOT / ".secrets"
RUN_DIR = ROOT / "var" / "run"


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


def conninfo(user: str = "postgres", dbname: str | None = None, host: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(
        host=host or str(RUN_DIR),
        port=CONFIG["PGPORT_MEMORY"],
        dbname=dbname or CONFIG["MEMORY_DB"],
        user=user,
        password=secret(f"{user}_password") if (SECRETS / f"{user}_password").exists() else None,
    )


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def superconn() -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit mode."""
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        yield conn


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
