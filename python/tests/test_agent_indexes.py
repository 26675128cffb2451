"""An agent's own HNSW index, built and dropped by scripts/agent-indexes.sh (`make
agent-indexes`) with CREATE/DROP INDEX CONCURRENTLY, in a scratch database of the
project's cluster: the plan of memory.agent_vector_index_plan() is carried out, the
agent's searches use the index, memory.health() counts the agents still waiting, and
bad arguments are refused with nothing changed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from conftest import ROOT
from testing.stack import ScratchDatabase, pg_env

SCRIPT = ["bash", str(ROOT / "scripts" / "agent-indexes.sh")]


@pytest.fixture(scope="module")
def db() -> Iterator[ScratchDatabase]:
    scratch = ScratchDatabase("agentidx").create()
    try:
        yield scratch
    finally:
        scratch.drop()


def run(db: ScratchDatabase, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **pg_env(db.name), PGUSER="postgres")
    return subprocess.run(
        [*SCRIPT, "--memory-db", db.name, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def own_indexes(db: ScratchDatabase) -> list[tuple[str, bool]]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'memory.chunks'::regclass AND c.relname ~ '^chunks_agent_[0-9a-f]{32}_model_'"
            " ORDER BY 1"
        ).fetchall()


def test_the_script_builds_uses_and_drops_an_agents_own_index(db):
    big = db.make_agent("Big")
    small = db.make_agent("Small")
    with db.connect() as conn:
        # 40 episodes for Big, 2 for Small, with vectors as the daemon would store them
        # (the queue is paused so that no daemon writes meanwhile: this database has none)
        for role, n in ((big, 40), (small, 2)):
            conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
            for i in range(n):
                conn.execute("SELECT memory.remember(%s)", (f"note {i} of {role} about the river",))
            conn.execute("RESET SESSION AUTHORIZATION")
        conn.execute(
            "INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start,"
            " char_end, content_sha256, embedding)"
            " SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, char_length(e.content), e.content_sha256,"
            "  ('[' || array_to_string(ARRAY(SELECT CASE WHEN d = 1 + (k.n % 384) THEN 1 ELSE 0 END"
            "   FROM generate_series(1, 384) AS d ORDER BY d), ',') || ']')::vector"
            " FROM (SELECT *, row_number() OVER (ORDER BY recorded_at, episode_id) AS n FROM memory.episodes) AS k"
            " JOIN memory.episodes AS e USING (episode_id), memory.embedding_models AS m WHERE m.is_serving"
        )
        waiting = conn.execute(
            "SELECT memory.health() -> 'operations' -> 'agents_needing_own_vector_index'"
        ).fetchone()[0]
        assert waiting == 0  # 40 chunks are far under the default bound (10,000)
        conn.execute(f"ALTER DATABASE \"{db.name}\" SET memory.exact_search_max_chunks = '20'")

    with db.connect() as conn:
        assert (
            conn.execute(
                "SELECT memory.health() -> 'operations' -> 'agents_needing_own_vector_index'"
            ).fetchone()[0]
            == 1
        )
    dry = run(db, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS chunks_agent_" in dry.stdout
    assert own_indexes(db) == []  # a dry run changes nothing

    built = run(db)
    assert built.returncode == 0, built.stderr
    assert "create the HNSW index of agent Big" in built.stderr
    (name, valid), *rest = own_indexes(db)
    assert valid and rest == []
    again = run(db)
    assert again.returncode == 0 and "nothing to do" in again.stderr

    with db.connect() as conn:
        assert (
            conn.execute(
                "SELECT memory.health() -> 'operations' -> 'agents_needing_own_vector_index'"
            ).fetchone()[0]
            == 0
        )
        # Big's vector search (over the bound of exact ranking: the graph) walks its index
        conn.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
            " SELECT model_id, memory._sha256('the river'), %s::vector FROM memory.embedding_models"
            " WHERE is_serving",
            ("[" + ",".join("1" if d == 3 else "0" for d in range(384)) + "]",),
        )
        before = conn.execute(
            "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_indexes WHERE indexrelname = %s",
            (name,),
        ).fetchone()[0]
        conn.execute(f'SET SESSION AUTHORIZATION "{big}"')
        # 42 chunks: a sort would cost less than any graph walk, so the planner is left
        # the two graphs only, and can take Big's own only if the agent is a constant
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        got = conn.execute(
            "SELECT episode_id FROM memory.search_episodic_memory('the river', k => 5, mode => 'vector')"
        ).fetchall()
        conn.execute("RESET SESSION AUTHORIZATION")
        assert len(got) == 5
        conn.execute("SELECT pg_stat_force_next_flush()")
    with db.connect() as conn:
        after = conn.execute(
            "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_indexes WHERE indexrelname = %s",
            (name,),
        ).fetchone()[0]
    assert after > before

    # a bound at which Big (40 chunks) is at half or less: the script drops the index
    dropped = run(db, "--min-chunks", "80")
    assert dropped.returncode == 0, dropped.stderr
    assert "drop the HNSW index of agent Big" in dropped.stderr
    assert own_indexes(db) == []


def test_bad_arguments_are_refused_and_change_nothing(db):
    for args, message in (
        (("--min-chunks", "ten"), "--min-chunks takes a whole number"),
        (("--min-chunks", "0"), "min_chunks must be between 1 and 100000000"),
        (("--bogus",), "unknown argument --bogus"),
    ):
        result = run(db, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
    assert own_indexes(db) == []
