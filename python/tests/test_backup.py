"""Backups: scripts/backup.sh and scripts/restore.sh, end to end.

The whole memory database is backed up (pg_dump -Fc in one exported snapshot, roles,
pg_cron jobs, a manifest of row counts), restored into a fresh database of another name
and checked: every table's rows, the functions, policies and grants, an agent's memory
as that agent sees it through row-level security, and pg_cron's jobs re-pointed at the
restored database (and running there). The restored database and its jobs are dropped
at the end, with the agent and role made here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, conninfo
from psycopg import errors, sql

SUFFIX = secrets.token_hex(3)
AGENT, ROLE = f"Backup{SUFFIX}", f"pytest_backup_{SUFFIX}"
RESTORED = f"pytest_restore_{SUFFIX}"
BACKUP = ["bash", str(ROOT / "scripts" / "backup.sh")]
RESTORE = ["bash", str(ROOT / "scripts" / "restore.sh")]


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def agent_rows(conn: psycopg.Connection, agent_id) -> dict[str, tuple]:
    """Row count and hash of the agent's rows per table (system auto checkpoints aside)."""
    out = {}
    for table in ("projects", "episodes", "facts", "fact_links", "blocks", "block_history", "checkpoints",
                  "working_memory", "agent_state", "chunks", "pooled_embeddings"):  # fmt: skip
        extra = sql.SQL(" AND x.kind <> 'auto'") if table == "checkpoints" else sql.SQL("")
        out[table] = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(md5(x::text), ',' ORDER BY md5(x::text)), '')) "
                "FROM memory.{} AS x WHERE x.agent_id = %s{}"
            ).format(sql.Identifier(table), extra),
            (agent_id,),
        ).fetchone()
    return out


def catalog(conn: psycopg.Connection) -> dict[str, list]:
    return {
        "functions": [r[0] for r in conn.execute(
            "SELECT oid::regprocedure::text || coalesce(array_to_string(proacl, ','), '') FROM pg_proc "
            "WHERE pronamespace = 'memory'::regnamespace ORDER BY 1").fetchall()],
        "policies": [r[0] for r in conn.execute(
            "SELECT c.relname || ':' || p.polname FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid "
            "WHERE c.relnamespace = 'memory'::regnamespace ORDER BY 1").fetchall()],
        "rls": [r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'memory'::regnamespace AND relrowsecurity "
            "ORDER BY 1").fetchall()],
        "table_grants": [r[0] for r in conn.execute(
            "SELECT relname || coalesce(array_to_string(relacl, ','), '') FROM pg_class "
            "WHERE relnamespace = 'memory'::regnamespace ORDER BY 1").fetchall()],
    }  # fmt: skip


@pytest.fixture(scope="module")
def source(pg_env) -> Iterator[dict]:
    """An agent with some memory, embedded; removed at the end."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        su.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ROLE)))
        try:
            agent_id = su.execute("SELECT memory.create_agent(%s, %s)", (AGENT, ROLE)).fetchone()[0]
            su.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(ROLE)))
            for i in range(12):
                su.execute(
                    "SELECT memory.remember(%s, 0.5, ARRAY['backup'], 'vault')",
                    (
                        f"backup test episode {i}: "
                        + "la memoria sobrevive a todo. " * (i * 10 + 1),
                    ),
                )
            su.execute(
                "SELECT memory.learn_fact('backup', 'pg_dump in one snapshot, restored and checked')"
            )
            su.execute("SELECT memory.set_block('persona', 'keeper of backups')")
            su.execute("SELECT memory.set_block('persona', 'keeper of backups, v2')")
            su.execute("SELECT memory.create_checkpoint()")
            su.execute("SELECT memory.set_working_memory('task', '{\"backup\": true}', '1 day')")
            su.execute("RESET SESSION AUTHORIZATION")
            deadline = time.monotonic() + 600
            while su.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE agent_id = %s AND state <> 'done'",
                (agent_id,),
            ).fetchone()[0]:
                assert time.monotonic() < deadline, (
                    "the daemon did not embed the backup agent's memory"
                )
                time.sleep(1)
            yield {"agent_id": agent_id}
        finally:
            with psycopg.connect(conninfo(), autocommit=True) as clean:
                for attempt in range(20):  # the daemon may be writing the agent's vectors
                    try:
                        clean.execute("DELETE FROM memory.agents WHERE name = %s", (AGENT,))
                        break
                    except errors.DeadlockDetected:
                        if attempt == 19:
                            raise
                        time.sleep(0.5)
                clean.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))


@pytest.fixture(scope="module")
def restored(source, pg_env, tmp_path_factory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("backup") / "set"
    with psycopg.connect(conninfo(), autocommit=True) as su:
        made = run([*BACKUP, "--out", str(folder)], pg_env)
        assert made.returncode == 0, made.stderr
        expected = agent_rows(su, source["agent_id"])
        jobs = su.execute(
            "SELECT jobname, schedule, command, username, active FROM cron.job "
            "WHERE database = current_database() ORDER BY jobname"
        ).fetchall()
        source_catalog = catalog(su)
        try:
            result = run([*RESTORE, str(folder), "--dbname", RESTORED], pg_env)
            yield {
                "folder": folder,
                "result": result,
                "expected": expected,
                "jobs": jobs,
                "catalog": source_catalog,
            }
        finally:
            dropped = run([*RESTORE, "--drop", RESTORED], pg_env)
            assert dropped.returncode == 0, dropped.stderr
            assert (
                su.execute(
                    "SELECT count(*) FROM cron.job WHERE database = %s", (RESTORED,)
                ).fetchone()[0]
                == 0
            )
            assert (
                su.execute(
                    "SELECT count(*) FROM pg_database WHERE datname = %s", (RESTORED,)
                ).fetchone()[0]
                == 0
            )


def test_backup_folder_is_complete(restored):
    folder: Path = restored["folder"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS", "cron-jobs.tsv", "globals.sql", "manifest.json", "memory.dump",
    ]  # fmt: skip
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        manifest["database"] == "agent_memory"
        and manifest["cron_jobs"] == len(restored["jobs"]) > 0
    )
    assert manifest["tables"]["memory.episodes"] >= 12
    globals_sql = (folder / "globals.sql").read_text()
    assert "CREATE ROLE memory_owner;" in globals_sql
    assert "PASSWORD '" not in globals_sql and "SCRAM-SHA-256$" not in globals_sql


def test_restore_finds_everything(restored):
    result = restored["result"]
    assert result.returncode == 0, result.stderr
    assert "all there" in result.stderr
    assert f"the backup's {len(restored['jobs'])} pg_cron job(s) run in {RESTORED}" in result.stderr
    with psycopg.connect(conninfo(dbname=RESTORED)) as conn:
        agent_id = conn.execute(
            "SELECT agent_id FROM memory.agents WHERE name = %s", (AGENT,)
        ).fetchone()[0]
        assert agent_rows(conn, agent_id) == restored["expected"]
        assert catalog(conn) == restored["catalog"]


def test_restored_memory_is_isolated_as_before(restored):
    with psycopg.connect(conninfo(dbname=RESTORED)) as conn:
        conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(ROLE)))
        mine = conn.execute("SELECT count(*) FROM memory.episodes").fetchone()[0]
        assert mine == restored["expected"]["episodes"][0] == 12
        assert conn.execute("SELECT count(*) FROM memory.agents").fetchone()[0] == 1
        found = conn.execute(
            "SELECT count(*) FROM memory.search_episodic_memory('la memoria sobrevive', 5, 'text')"
        ).fetchone()[0]
        assert found == 5


def test_pg_cron_jobs_are_re_pointed_and_run(restored):
    with psycopg.connect(conninfo(), autocommit=True) as su:
        repointed = su.execute(
            "SELECT split_part(jobname, '@', 1), schedule, command, username, active FROM cron.job "
            "WHERE database = %s AND jobname LIKE %s ORDER BY 1",
            (RESTORED, f"%@{RESTORED}"),
        ).fetchall()
        assert repointed == restored["jobs"]
        # Every-minute jobs run in the restored database within about a minute.
        deadline = time.monotonic() + 150
        while True:
            ran = su.execute(
                "SELECT count(*) FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid) "
                "WHERE j.database = %s AND d.status = 'succeeded'",
                (RESTORED,),
            ).fetchone()[0]
            if ran:
                break
            assert time.monotonic() < deadline, "no re-pointed job ran in the restored database"
            time.sleep(2)


def test_restore_refuses_an_existing_database_and_a_tampered_backup(restored, pg_env, tmp_path):
    existing = run([*RESTORE, str(restored["folder"]), "--dbname", "agent_memory"], pg_env)
    assert existing.returncode != 0 and "database agent_memory exists" in existing.stderr
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for f in restored["folder"].iterdir():
        (tampered / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest["tables"]["memory.episodes"] += 1
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    result = run([*RESTORE, str(tampered), "--dbname", RESTORED + "_x"], pg_env)
    assert result.returncode != 0 and "do not match SHA256SUMS" in result.stderr
    with psycopg.connect(conninfo(), autocommit=True) as su:
        assert (
            su.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (RESTORED + "_x",)
            ).fetchone()[0]
            == 0
        )
    refused = run([*RESTORE, "--drop", "agent_memory"], pg_env)
    assert refused.returncode != 0 and "refusing to drop the memory database" in refused.stderr


# ---------------------------------------------------------------------------------------
# Disaster recovery: the backup restored into a new cluster under the same name.
# ---------------------------------------------------------------------------------------
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def as_postgres(cmd: list[str]) -> list[str]:
    """Commands of a cluster run as the service account when the tests run as root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture()
def spare_cluster() -> Iterator[dict[str, str]]:
    """A throw-away cluster with pg_cron preloaded for agent_memory; stopped and removed after."""
    base = Path(tempfile.mkdtemp(prefix="pytest-cluster-", dir="/tmp"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    subprocess.run(
        as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                     "--encoding=UTF8", "--locale=C.UTF-8"]),
        check=True, capture_output=True,
    )  # fmt: skip
    conf = (
        f"listen_addresses = ''\nport = {port}\nunix_socket_directories = '{base}'\n"
        "shared_preload_libraries = 'pg_cron'\ncron.database_name = 'agent_memory'\n"
        "cron.use_background_workers = on\nmax_worker_processes = 16\ntimezone = 'UTC'\n"
    )
    subprocess.run(
        as_postgres(["bash", "-c", f"cat >> {data}/postgresql.conf"]),
        input=conf.encode(),
        check=True,
    )
    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60"]
    subprocess.run(as_postgres([*ctl, "start"]), check=True, capture_output=True)
    try:
        yield {"host": str(base), "port": port, "ctl": ctl}
    finally:
        subprocess.run(as_postgres([*ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_disaster_recovery_into_a_new_cluster(restored, spare_cluster, pg_env):
    """A new cluster, the same database name: roles from globals.sql, pg_cron's own table."""
    env = dict(pg_env, PGPASSFILE="/dev/null")
    host, port = spare_cluster["host"], spare_cluster["port"]
    result = run(
        [
            *RESTORE,
            str(restored["folder"]),
            "--dbname",
            "agent_memory",
            "--globals",
            "--host",
            host,
            "--port",
            port,
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "all there" in result.stderr
    assert (
        f"the backup's {len(restored['jobs'])} pg_cron job(s) run in agent_memory" in result.stderr
    )
    assert "restart the cluster" in result.stderr
    again = run([*RESTORE, str(restored["folder"]), "--dbname", "agent_memory", "--replace", "--host", host,
                 "--port", port], env)  # fmt: skip
    assert (
        again.returncode != 0
        and "--replace only replaces a database without memory" in again.stderr
    )
    # pg_cron's scheduler starts with the cluster: restart it, then the jobs run.
    subprocess.run(as_postgres([*spare_cluster["ctl"], "restart"]), check=True, capture_output=True)
    info = conninfo(host=host, dbname="agent_memory").replace(
        f"port={pg_env['PGPORT']}", f"port={port}"
    )
    with psycopg.connect(info, autocommit=True) as conn:
        agent_id = conn.execute(
            "SELECT agent_id FROM memory.agents WHERE name = %s", (AGENT,)
        ).fetchone()[0]
        assert agent_rows(conn, agent_id) == restored["expected"]
        assert catalog(conn) == restored["catalog"]
        assert conn.execute(
            "SELECT has_parameter_privilege('memory_owner', 'session_replication_role', 'SET')"
        ).fetchone() == (True,)
        jobs = conn.execute(
            "SELECT jobname, schedule, command, username, active FROM cron.job "
            "WHERE database = 'agent_memory' ORDER BY jobname"
        ).fetchall()
        assert jobs == restored["jobs"]
        deadline = time.monotonic() + 150
        while not conn.execute(
            "SELECT count(*) FROM cron.job_run_details WHERE database = 'agent_memory' AND status = 'succeeded'"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "no job ran in the recovered cluster"
            time.sleep(2)
