"""The migration runner: once each, recorded with sha256, refuses edited migrations."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, conninfo


@pytest.fixture()
def scratch_db(superconn: psycopg.Connection, pg_env: dict[str, str]):
    """A fresh, empty database; dropped afterwards."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    superconn.execute(f'CREATE DATABASE "{name}"')
    env = dict(pg_env, PGDATABASE=name)
    try:
        yield name, env
    finally:
        superconn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture()
def sql_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", dest)
    return dest


def run_migrate(env: dict[str, str], sql_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "migrate.sh"), str(sql_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def applied(dbname: str) -> list[tuple[str, str]]:
    with psycopg.connect(conninfo(dbname=dbname)) as conn:
        return conn.execute(
            "SELECT name, sha256 FROM memory_meta.schema_migrations ORDER BY name"
        ).fetchall()


def test_fresh_database_gets_every_migration_once(scratch_db, sql_copy):
    name, env = scratch_db
    first = run_migrate(env, sql_copy)
    assert first.returncode == 0, first.stderr
    files = sorted(p.name for p in (sql_copy / "migrations").glob("*.sql"))
    rows = applied(name)
    assert [r[0] for r in rows] == files
    second = run_migrate(env, sql_copy)
    assert second.returncode == 0, second.stderr
    assert "applying" not in second.stderr
    assert applied(name) == rows


def test_edited_migration_is_refused_and_named(scratch_db, sql_copy):
    name, env = scratch_db
    assert run_migrate(env, sql_copy).returncode == 0
    before = applied(name)
    victim = sorted((sql_copy / "migrations").glob("*.sql"))[0]
    victim.write_text(victim.read_text() + "\n-- an innocent-looking edit\n")
    # A new migration placed after it must not be applied either.
    (sql_copy / "migrations" / "998-should-not-run.sql").write_text(
        "CREATE TABLE public.should_not_exist (x int);\n"
    )
    result = run_migrate(env, sql_copy)
    assert result.returncode == 3
    assert victim.name in result.stderr
    assert "edited after it was applied" in result.stderr
    assert applied(name) == before
    with psycopg.connect(conninfo(dbname=name)) as conn:
        assert conn.execute("SELECT to_regclass('public.should_not_exist')").fetchone() == (None,)


def test_deleted_applied_migration_is_refused(scratch_db, sql_copy):
    _, env = scratch_db
    assert run_migrate(env, sql_copy).returncode == 0
    victim = sorted((sql_copy / "migrations").glob("*.sql"))[-1]
    victim.unlink()
    result = run_migrate(env, sql_copy)
    assert result.returncode == 3
    assert victim.name in result.stderr


def test_badly_named_migration_is_refused(scratch_db, sql_copy):
    _, env = scratch_db
    (sql_copy / "migrations" / "2-Bad_Name.sql").write_text("SELECT 1;\n")
    result = run_migrate(env, sql_copy)
    assert result.returncode == 2
    assert "2-Bad_Name.sql" in result.stderr


def test_failing_migration_leaves_no_trace(scratch_db, sql_copy):
    name, env = scratch_db
    assert run_migrate(env, sql_copy).returncode == 0
    before = applied(name)
    (sql_copy / "migrations" / "998-broken.sql").write_text(
        "CREATE TABLE public.half_done (x int);\nSELECT no_such_function();\n"
    )
    result = run_migrate(env, sql_copy)
    assert result.returncode != 0
    assert applied(name) == before
    with psycopg.connect(conninfo(dbname=name)) as conn:
        assert conn.execute("SELECT to_regclass('public.half_done')").fetchone() == (None,)
