"""Issue 15's smaller channels, outside SQL: log files and their content, and the
databases an agent's login may connect to."""

from __future__ import annotations

import secrets
import stat
import time
import uuid

import psycopg
import pytest
from conftest import CONFIG, ROOT, RUN_DIR
from testing.stack import superuser

pytestmark = pytest.mark.timeout(120)

LOG_DIR = ROOT / "var" / "log"


def test_every_log_file_is_0640_or_tighter():
    logs = [p for p in LOG_DIR.iterdir() if p.is_file()]
    assert {"postgres.log", "redis.log", "embed-daemon.log"} <= {p.name for p in logs}
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in logs if p.stat().st_mode & 0o137}
    assert not loose, f"log files readable by others or writable by the group: {loose}"


def test_the_server_logs_no_statement_text():
    with superuser() as su:
        settings = dict(
            su.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "log_min_error_statement",
                        "log_min_duration_statement",
                        "log_statement",
                        "log_error_verbosity",
                    ],
                ),
            ).fetchall()
        )
    assert settings == {
        "log_min_error_statement": "panic",
        "log_min_duration_statement": "-1",
        "log_statement": "none",
        "log_error_verbosity": "terse",
    }


@pytest.fixture()
def agent_login():
    role = f"test_hard_{uuid.uuid4().hex[:8]}"
    name = f"Hard{uuid.uuid4().hex[:6]}"
    password = secrets.token_urlsafe(18)
    with superuser() as su:
        su.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        su.execute("SELECT memory.create_agent(%s, %s)", (name, role))
        try:
            yield role, password
        finally:
            su.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
            )
            su.execute("DELETE FROM memory.agents WHERE name = %s", (name,))
            su.execute(f'DROP ROLE "{role}"')


def _connect(role: str, password: str, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=str(RUN_DIR),
        port=CONFIG["PGPORT_MEMORY"],
        dbname=dbname,
        user=role,
        password=password,
        autocommit=True,
    )


def test_an_agents_failing_statement_leaves_no_content_in_the_log(agent_login):
    role, password = agent_login
    marker = f"zq-secret-{uuid.uuid4().hex}"
    log = LOG_DIR / "postgres.log"
    start = log.stat().st_size
    with _connect(role, password, CONFIG["MEMORY_DB"]) as conn:
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            conn.execute("SELECT memory.remember(%s, importance => 7)", (f"my diary: {marker}",))
        with pytest.raises(psycopg.errors.CheckViolation):
            # a failing row's values would be in the DETAIL of a check violation
            conn.execute(
                "INSERT INTO memory.episodes (content, importance) VALUES (%s, 9)", (marker,)
            )
    time.sleep(0.5)  # the server writes its log as it goes; a moment for the last lines
    with log.open("rb") as f:
        f.seek(start)
        written = f.read().decode("utf-8", "replace")
    assert marker not in written


def test_an_agent_connects_to_the_memory_database_only(agent_login):
    role, password = agent_login
    with _connect(role, password, CONFIG["MEMORY_DB"]) as conn:
        assert conn.execute("SELECT memory.current_agent() IS NOT NULL").fetchone()[0]
    for other in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            _connect(role, password, other)
