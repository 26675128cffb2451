"""Shared fixtures: connections to the real stack that `make up` started."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

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
