"""The stack that `make up` starts: loopback only, scram, secrets never committed."""

from __future__ import annotations

import socket
import subprocess

import psycopg
import pytest
import redis
from conftest import CONFIG, ROOT, RUN_DIR, SECRETS, conninfo, secret


def non_loopback_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in out if ":" not in a and not a.startswith("127.")]


def test_postgres_listens_on_loopback_only(superconn):
    assert superconn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    rules = superconn.execute(
        "SELECT type, address, auth_method FROM pg_hba_file_rules WHERE error IS NULL"
    ).fetchall()
    assert rules, "pg_hba.conf has rules"
    for kind, address, method in rules:
        assert method == "scram-sha-256"
        assert kind == "local" or address == "127.0.0.1"


@pytest.mark.parametrize("port_key", ["PGPORT_MEMORY", "REDIS_PORT_MEMORY", "EXPORTER_PORT_MEMORY"])
def test_tcp_from_outside_loopback_is_refused(port_key):
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, int(CONFIG[port_key]))) != 0, address


def test_wrong_password_is_refused():
    bad = psycopg.conninfo.make_conninfo(conninfo("memory_operator"), password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad).close()


def test_operator_connects_over_tcp_loopback():
    with psycopg.connect(conninfo("memory_operator", host="127.0.0.1")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("memory_operator",)
        # the operator reads pg_cron's job table
        conn.execute("SELECT count(*) FROM cron.job").fetchone()


def test_extensions(superconn):
    rows = dict(superconn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    assert rows["vector"] == "0.8.0"
    assert "pg_cron" in rows
    assert "plpython3u" in rows


def test_redis_requires_the_generated_password():
    port = int(CONFIG["REDIS_PORT_MEMORY"])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port).ping()
    assert redis.Redis(host="127.0.0.1", port=port, password=secret("redis_password")).ping()


def test_no_secret_is_tracked_by_git():
    for path in SECRETS.iterdir():
        if path.name == "pgpass":
            continue
        value = path.read_text().strip()
        assert len(value) >= 32, path.name
        found = subprocess.run(
            ["git", "grep", "-F", "-l", "-e", value], cwd=ROOT, capture_output=True, text=True
        )
        assert found.returncode == 1, f"{path.name} appears in {found.stdout}"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(SECRETS / "redis_password")], cwd=ROOT
    )
    assert ignored.returncode == 0, ".secrets/ must be git-ignored"


def test_daemon_is_a_real_process_with_pid_file_and_log():
    pid = int((RUN_DIR / "embed-daemon.pid").read_text())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"embed_daemon" in f.read()
    assert (ROOT / "var" / "log" / "embed-daemon.log").stat().st_size > 0
