"""The old brain comes over: legacy import end to end, through postgres_fdw.

Once per module (fixtures `legacy_db` and `imported`; the agent holding the old ids is
gone before another module imports the same fixture in another layout): scripts/legacy-fixture.py builds
an old database with the legacy schema and 4,704 episodes; scripts/import-legacy.sh
imports it into a new agent in batches of 100, and is killed (process group SIGKILL and
its backend terminated) in the middle of the episodes; the same command run again
finishes the import; then the test waits until the shared embed daemon has embedded
every episode and fact (several minutes on a small machine). Everything the session
creates (databases, roles, the agent, foreign servers, secrets) is removed at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, SECRETS, conninfo, keyed_tables
from psycopg import errors, sql

LEGACY_DB = "pytest_legacy_brain"
READER = "pytest_legacy_reader"
SERVER = "pytest_legacy"
AGENT = "PytestLegacy"
ROLE = "pytest_legacy_agent"
EPISODES = 4704
PY = str(ROOT / ".venv" / "bin" / "python")
IMPORT = ["bash", str(ROOT / "scripts" / "import-legacy.sh")]
FIXTURE = ROOT / "scripts" / "legacy-fixture.py"
EMBED_TIMEOUT = 30 * 60  # seconds: 4,704 episodes, some long, on a shared 2-core daemon
TIMINGS: dict[str, float] = {}

# Written by the daemon and by pg_cron while tests run; compared where it matters.
# bookkeeping that differs by design between two databases: logs, import records, the
# cache warmer's change queue, the claim rotation, quota counters (their shards follow
# the writing backends; their sums are checked by the quota tests) and the consolidation
# job's per-agent cursor
BACKGROUND = {
    "episode_access_log",
    "legacy_imports",
    "agent_imports",
    "cache_changes",
    "claim_turns",
    "agent_usage",
    "consolidation_progress",
}
EMBEDDING = {"chunks", "pooled_embeddings", "embedding_jobs"}


def run(cmd: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def import_cmd(*extra: str, server: str = SERVER, agent: str = AGENT) -> list[str]:
    return [
        *IMPORT,
        "--agent", agent, "--server", server, "--dbname", LEGACY_DB, "--user", READER, *extra,
    ]  # fmt: skip


def agent_id(conn: psycopg.Connection, name: str = AGENT) -> uuid.UUID | None:
    row = conn.execute("SELECT agent_id FROM memory.agents WHERE name = %s", (name,)).fetchone()
    return row[0] if row else None


def drop_agent(conn: psycopg.Connection, name: str, role: str) -> None:
    """Deletes the agent with all its memory, and its role.

    The embed daemon may be storing vectors of the agent meanwhile: the cascade can
    then deadlock with it, and is tried again.
    """
    for attempt in range(10):
        try:
            conn.execute("DELETE FROM memory.agents WHERE name = %s", (name,))
            break
        except errors.DeadlockDetected:
            if attempt == 9:
                raise
            time.sleep(0.5)
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def make_agent(conn: psycopg.Connection, name: str, role: str) -> uuid.UUID:
    drop_agent(conn, name, role)
    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    return conn.execute("SELECT memory.create_agent(%s, %s)", (name, role)).fetchone()[0]


def fingerprint(conn: psycopg.Connection, agent: uuid.UUID, skip: set[str]) -> dict[str, tuple]:
    """Per table keyed on agent_id: row count and a hash of the rows without agent_id.

    System checkpoints (kind auto, written by pg_cron) are left out: they come and go
    with the clock, not with the import.
    """
    out = {}
    for table in keyed_tables(conn):
        if table in skip:
            continue
        extra = sql.SQL(" AND x.kind <> 'auto'") if table == "checkpoints" else sql.SQL("")
        out[table] = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM ("
                "SELECT md5((to_jsonb(x) - 'agent_id')::text) AS r FROM memory.{} AS x "
                "WHERE x.agent_id = %s{}) AS s"
            ).format(sql.Identifier(table), extra),
            (agent,),
        ).fetchone()
    return out


def coverage(conn: psycopg.Connection, agent: uuid.UUID) -> tuple[int, int, int]:
    """(texts, texts with current vectors of the serving model, dead jobs) of the agent."""
    return conn.execute(
        """
        WITH owners AS (
            SELECT e.episode_id AS id, e.content_sha256 AS sha FROM memory.episodes AS e WHERE e.agent_id = %(a)s
            UNION ALL
            SELECT f.fact_id, f.content_sha256 FROM memory.facts AS f WHERE f.agent_id = %(a)s
        )
        SELECT count(*),
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM memory.embedding_jobs AS j JOIN memory.embedding_models AS m USING (model_id)
                   WHERE coalesce(j.episode_id, j.fact_id) = o.id AND m.is_serving AND j.state = 'done'
                     AND j.embedded_sha256 = o.sha)),
               (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.agent_id = %(a)s AND j.state = 'dead')
        FROM owners AS o
        """,
        {"a": agent},
    ).fetchone()


def report(conn: psycopg.Connection, server: str = SERVER, agent: str = AGENT) -> dict[str, dict]:
    cur = conn.execute("SELECT * FROM memory.legacy_import_report(%s, %s)", (server, agent))
    names = [d.name for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def say(text: str) -> None:
    """Figures for the record, shown with pytest -s."""
    print(f"\n[legacy import] {text}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# Module fixtures
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def legacy_db(pg_env: dict[str, str]) -> Iterator[dict]:
    made = run([PY, str(FIXTURE), "--dbname", LEGACY_DB, "--reader", READER, "--replace"], pg_env)
    assert made.returncode == 0, made.stderr
    try:
        yield json.loads(made.stdout)
    finally:
        run([PY, str(FIXTURE), "--dbname", LEGACY_DB, "--reader", READER, "--drop"], pg_env)
        assert not (SECRETS / f"{READER}_password").exists()


@pytest.fixture(scope="module")
def imported(legacy_db: dict, pg_env: dict[str, str]) -> Iterator[dict]:
    env = dict(pg_env)
    info: dict = {}
    with psycopg.connect(conninfo(), autocommit=True) as su:
        make_agent(su, AGENT, ROLE)
        me = agent_id(su)
        try:
            # 1. Start, and kill it in the middle of the episodes (a batch may be in flight).
            with tempfile.TemporaryFile(mode="w+") as log:
                proc = subprocess.Popen(
                    import_cmd("--batch", "100"),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
                deadline = time.monotonic() + 300
                while True:
                    row = su.execute(
                        "SELECT phase, batches FROM memory.legacy_imports WHERE server_name = %s",
                        (SERVER,),
                    ).fetchone()
                    if row and row[0] == "episodes" and row[1] >= 8:
                        break
                    if proc.poll() is not None:
                        log.seek(0)
                        pytest.fail(f"the import ended before it was killed: {log.read()}")
                    assert time.monotonic() < deadline, "the import did not reach its episodes"
                    time.sleep(0.02)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            su.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'import-legacy'"
            )
            info["partial_episodes"] = su.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (me,)
            ).fetchone()[0]
            info["killed_at"] = su.execute(
                "SELECT phase, batches FROM memory.legacy_imports WHERE server_name = %s", (SERVER,)
            ).fetchone()

            # 2. The same command again finishes it.
            t0 = time.monotonic()
            rerun = run(import_cmd("--batch", "100"), env)
            info["resume_seconds"] = time.monotonic() - t0
            assert rerun.returncode == 0, rerun.stderr
            info["resume_log"] = rerun.stderr

            # 3. The daemon embeds every episode and fact. (A fresh connection per look:
            # the shared cluster may be restarted by someone meanwhile.)
            t0 = time.monotonic()
            while True:
                try:
                    with psycopg.connect(conninfo(), autocommit=True) as look:
                        total, done, dead = coverage(look, me)
                except psycopg.OperationalError:
                    time.sleep(5)
                    continue
                assert dead == 0, f"{dead} embedding job(s) died"
                if done == total:
                    break
                assert time.monotonic() - t0 < EMBED_TIMEOUT, (
                    f"{done}/{total} embedded after {EMBED_TIMEOUT}s"
                )
                time.sleep(5)
            info["embed_seconds"] = time.monotonic() - t0
            TIMINGS.update(embed_seconds=info["embed_seconds"])
            say(
                f"killed at {info['killed_at']} with {info['partial_episodes']} episodes; "
                f"resumed in {info['resume_seconds']:.1f}s; 100% embedded {info['embed_seconds']:.0f}s later"
            )
            info["agent_id"] = me
            yield info
        finally:
            with psycopg.connect(conninfo(), autocommit=True) as clean:
                drop_agent(clean, AGENT, ROLE)
                clean.execute(
                    sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(SERVER))
                )


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def test_fixture_is_an_old_brain_of_realistic_text(legacy_db):
    assert legacy_db["episodes"] == EPISODES
    assert legacy_db["over_500_chars"] > 500
    assert legacy_db["over_5000_chars"] > 50
    assert legacy_db["embedded"] == 0, "the old brain never embedded anything"
    with psycopg.connect(conninfo(dbname=LEGACY_DB)) as conn:
        spanish, emoji, null_ts, null_tags = conn.execute(
            """
            SELECT count(*) FILTER (WHERE content ~ '[ñáéíóú¿]'), count(*) FILTER (WHERE content ~ '🧬|✅|🚨'),
                   count(*) FILTER (WHERE "timestamp" IS NULL), count(*) FILTER (WHERE tags IS NULL)
            FROM zep_episodic_memory
            """
        ).fetchone()
        assert spanish > 500 and emoji > 10 and null_ts > 0 and null_tags > 0
        assert conn.execute("SELECT count(*) FROM zep_semantic_memory").fetchone()[0] == 150
        assert conn.execute("SELECT count(*) FROM nexus_memory.memory_blocks").fetchone()[0] == 6


def test_fixture_is_deterministic():
    spec = importlib.util.spec_from_file_location("legacy_fixture", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.make_data(7, 300) == module.make_data(7, 300)
    assert module.make_data(7, 300) != module.make_data(8, 300)


def test_killed_import_resumed_to_a_complete_import(imported):
    assert 0 < imported["partial_episodes"] < EPISODES, imported["partial_episodes"]
    assert imported["partial_episodes"] % 100 == 0, "a killed batch is all or nothing"
    assert "verification: nothing missing, duplicated or different" in imported["resume_log"]


def test_report_finds_nothing_missing_duplicated_or_different(imported, superconn):
    rep = report(superconn)
    for item in (
        "episodes",
        "projects",
        "facts",
        "fact_links",
        "blocks",
        "checkpoints",
        "working_memory",
    ):
        row = rep[item]
        assert row["old_rows"] == row["new_rows"], row
        assert (row["missing_in_new"], row["extra_in_new"], row["duplicated"]) == (0, 0, 0), row
        assert (row["checksum_diffs"], row["field_diffs"]) == (0, 0), row
        assert row["missing_ids"] == [] and row["extra_ids"] == [], row
    assert rep["episodes"]["old_rows"] == EPISODES
    assert rep["facts"]["old_rows"] == 150
    assert rep["working_memory"]["old_rows"] == 14, "expired old items are left out"
    for item in ("episodes", "facts"):
        assert rep[item]["coverage"] == 100, rep[item]
        assert rep[item]["embedded"] == rep[item]["new_rows"]
    assert rep["episodes"]["note"].startswith("0 old embedding(s) left behind")


def test_ids_timestamps_and_texts_are_those_of_the_old_database(imported, superconn):
    with psycopg.connect(conninfo(dbname=LEGACY_DB)) as old:
        before = set(
            old.execute(
                """
                SELECT episode_id, coalesce("timestamp", created_at), created_at,
                       sha256(convert_to(content, 'UTF8')), coalesce(importance_score, 0.5)::real
                FROM zep_episodic_memory
                """
            ).fetchall()
        )
    after = set(
        superconn.execute(
            "SELECT episode_id, occurred_at, recorded_at, content_sha256, importance FROM memory.episodes "
            "WHERE agent_id = %s",
            (imported["agent_id"],),
        ).fetchall()
    )
    assert len(before) == EPISODES
    assert after == before


def test_long_texts_are_embedded_whole(imported, superconn):
    rows = superconn.execute(
        """
        SELECT char_length(e.content), count(c.*), max(c.char_end), min(c.char_start)
        FROM memory.episodes AS e
        JOIN memory.chunks AS c ON c.episode_id = e.episode_id
        JOIN memory.embedding_models AS m ON m.model_id = c.model_id AND m.is_serving
        WHERE e.agent_id = %s AND char_length(e.content) > 5000
        GROUP BY e.episode_id, e.content
        """,
        (imported["agent_id"],),
    ).fetchall()
    assert len(rows) > 50
    for length, chunks, last_end, first_start in rows:
        assert chunks > 1 and first_start == 0 and last_end == length


def test_rerun_changes_nothing(imported, superconn, pg_env):
    me = imported["agent_id"]
    before = fingerprint(superconn, me, BACKGROUND)
    counts = superconn.execute(
        "SELECT counts FROM memory.legacy_imports WHERE server_name = %s", (SERVER,)
    ).fetchone()[0]
    plain = run(import_cmd(), pg_env)
    assert plain.returncode == 0, plain.stderr
    assert "done: read 0, wrote 0" in plain.stderr
    again = run(import_cmd("--again"), pg_env)
    assert again.returncode == 0, again.stderr
    assert "wrote 0" in again.stderr and "episodes: read 500, wrote 0" in again.stderr
    assert fingerprint(superconn, me, BACKGROUND) == before
    assert superconn.execute(
        "SELECT counts, passes FROM memory.legacy_imports WHERE server_name = %s", (SERVER,)
    ).fetchone() == (counts, 2)


def test_uninterrupted_import_elsewhere_gives_the_same_memory(imported, superconn, pg_env):
    """A clean import (batches of 500) into a fresh database equals the killed-and-resumed one."""
    name = f"pytest_legacy_{uuid.uuid4().hex[:8]}"
    superconn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = dict(pg_env, PGDATABASE=name)
    try:
        migrated = run(["bash", str(ROOT / "scripts" / "migrate.sh")], env)
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(conninfo(dbname=name), autocommit=True) as other:
            other.execute("SELECT memory.create_agent(%s, %s)", (AGENT, ROLE))
            t0 = time.monotonic()
            clean = run(import_cmd("--memory-db", name), env)
            TIMINGS["import_seconds"] = time.monotonic() - t0
            say(f"uninterrupted import of {EPISODES} episodes: {TIMINGS['import_seconds']:.1f}s")
            assert clean.returncode == 0, clean.stderr
            theirs = fingerprint(other, agent_id(other), BACKGROUND | EMBEDDING | {"agents"})
        ours = fingerprint(superconn, imported["agent_id"], BACKGROUND | EMBEDDING | {"agents"})
        assert theirs == ours
        assert ours["episodes"][0] == EPISODES
    finally:
        superconn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_one_old_database_goes_into_one_agent(imported, superconn, pg_env):
    other, role, server2 = "PytestLegacyTwin", "pytest_legacy_twin", "pytest_legacy_twin"
    make_agent(superconn, other, role)
    try:
        same_server = run(import_cmd(agent=other), pg_env)
        assert same_server.returncode == 2
        assert (
            "legacy server pytest_legacy is being imported into another agent" in same_server.stderr
        )
        other_server = run(import_cmd(agent=other, server=server2), pg_env)
        assert other_server.returncode == 2
        assert "legacy episode ids already belong to another agent" in other_server.stderr
        assert (
            "old ids are kept, so a legacy database is imported into one agent only"
            in other_server.stderr
        )
        twin = agent_id(superconn, other)
        for table in ("projects", "episodes", "facts", "blocks", "checkpoints", "working_memory"):
            n = superconn.execute(
                sql.SQL("SELECT count(*) FROM memory.{} WHERE agent_id = %s").format(
                    sql.Identifier(table)
                ),
                (twin,),
            ).fetchone()[0]
            assert n == 0, f"{table}: {n} row(s) written"
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.legacy_imports WHERE server_name = %s", (server2,)
            ).fetchone()[0]
            == 0
        )
    finally:
        drop_agent(superconn, other, role)
        superconn.execute(
            sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(server2))
        )


def test_wrong_password_is_a_clear_error(legacy_db, superconn, pg_env, tmp_path: Path):
    other, role, server3 = "PytestLegacyLocked", "pytest_legacy_locked", "pytest_legacy_locked"
    make_agent(superconn, other, role)
    wrong = tmp_path / "wrong_password"
    wrong.write_text("not-the-password")
    try:
        result = run(import_cmd("--password-file", str(wrong), agent=other, server=server3), pg_env)
        assert result.returncode == 2
        assert 'password authentication failed for user "pytest_legacy_reader"' in result.stderr
        assert "not-the-password" not in result.stderr
    finally:
        drop_agent(superconn, other, role)
        superconn.execute(
            sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(server3))
        )
