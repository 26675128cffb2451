"""Erasure of an agent (issue 20) against the real stack: Postgres, the daemon's cache
warmer and Redis, the embed daemon's vectors and the shared query-embedding cache.

`CALL memory.drop_agent` commits between batches, so it runs here (autocommit), not in
pgTAP. Nothing of the dropped agent may be left in any table the catalog shows with an
agent column, nor under its key prefix in Redis; an interrupted drop resumes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from conftest import ROOT, conninfo, create_login_agent, drop_login_agents
from psycopg import sql
from test_cache import Agent, redis_client, wait_for

pytestmark = pytest.mark.timeout(300)

# Every (table, column) of schema memory holding an agent's rows, from the catalog: a
# uuid column agent_id or *_agent_id, or a foreign key to memory.agents. memory.agent_drops
# is the erasure's tombstone (id, name, counts; no content).
AGENT_COLUMNS = """
SELECT DISTINCT c.oid::regclass::text, a.attname
FROM pg_class AS c
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
  AND c.oid <> 'memory.agent_drops'::regclass
  AND ((a.atttypid = 'uuid'::regtype AND a.attname ~ '(^|_)agent_id$')
       OR EXISTS (SELECT 1 FROM pg_constraint AS k
                  WHERE k.conrelid = c.oid AND k.contype = 'f'
                    AND k.confrelid = 'memory.agents'::regclass AND a.attnum = ANY (k.conkey)))
ORDER BY 1, 2
"""


def rows_left(su: psycopg.Connection, agent_id: uuid.UUID) -> dict[str, int]:
    out: dict[str, int] = {}
    for table, column in su.execute(AGENT_COLUMNS).fetchall():
        n = su.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                sql.SQL(table), sql.Identifier(column)
            ),
            (agent_id,),
        ).fetchone()[0]
        out[f"{table}.{column}"] = n
    return out


def make_agent(su: psycopg.Connection, label: str) -> Agent:
    suffix = secrets.token_hex(4)
    role = f"test_life_{label}_{suffix}"
    password = secrets.token_urlsafe(24)
    name = f"Life{label.title()}{suffix}"
    return Agent(name, role, password, create_login_agent(su, name, role, password))


@pytest.fixture()
def made() -> Iterator[list[Agent]]:
    agents: list[Agent] = []
    yield agents
    with psycopg.connect(conninfo(), autocommit=True) as su:
        # the agents' deletion lock orders this cascade with the embed daemon finishing
        # their jobs (180-lifetime.sql; test_lock_order.py races the two)
        drop_login_agents(su, [a.role for a in agents], [a.agent_id for a in agents])
        su.execute(
            "DELETE FROM memory.agent_drops WHERE agent_id = ANY(%s)",
            ([a.agent_id for a in agents],),
        )


def operator() -> psycopg.Connection:
    return psycopg.connect(conninfo("memory_operator"), autocommit=True)


def embed(conn: psycopg.Connection, query: str) -> None:
    """embed_query through the real daemon; a busy machine may time out a try."""
    for attempt in range(10):
        try:
            conn.execute("SELECT memory.embed_query(%s)", (query,))
            return
        except psycopg.errors.ExternalRoutineException:
            if attempt == 9:
                raise
            time.sleep(1)


def fill(agent: Agent, episodes: int, query: str, shared_query: str) -> None:
    with agent.connect() as conn:
        embed(conn, query)
        embed(conn, shared_query)
        with conn.transaction():
            for i in range(episodes):
                conn.execute(
                    "SELECT memory.remember(%s, session_id => %s, project => 'borrar')",
                    (f"Episodio {i} de {agent.name}: la memoria se borra entera.", f"s{i % 3}"),
                )
        conn.execute("SELECT memory.learn_fact('drop', 'Everything goes.')")
        for key in ("a", "b", "c"):
            conn.execute(
                "SELECT memory.set_working_memory('task', %s, key => %s)", ('{"k": 1}', key)
            )
        conn.execute("SELECT memory.set_block('persona', 'to be dropped')")
        conn.execute("SELECT memory.create_checkpoint('manual', '{}')")
        conn.execute("SELECT memory.register_instance('life-1')")


def cached(su: psycopg.Connection, query: str) -> bool:
    return su.execute(
        "SELECT EXISTS (SELECT 1 FROM memory.query_embedding_cache "
        "WHERE query_sha256 = memory._sha256(%s))",
        (query,),
    ).fetchone()[0]


def test_drop_agent_leaves_nothing_in_postgres_or_redis(made, superconn):
    victim = make_agent(superconn, "victim")
    other = make_agent(superconn, "other")
    made.extend([victim, other])
    mine, shared = f"only the victim asked {uuid.uuid4()}", f"both asked {uuid.uuid4()}"
    fill(victim, 40, mine, shared)
    fill(other, 5, f"other's own {uuid.uuid4()}", shared)
    r = redis_client()
    prefix = f"mem:{victim.agent_id}:*"
    wait_for("the victim's keys in Redis", lambda: len(list(r.scan_iter(match=prefix))) >= 5)
    wait_for(
        "both agents' episodes embedded",
        lambda: superconn.execute(
            "SELECT count(*) FILTER (WHERE agent_id = %s) = 40 AND count(*) FILTER (WHERE agent_id = %s) = 5 "
            "FROM memory.pooled_embeddings WHERE episode_id IS NOT NULL",
            (victim.agent_id, other.agent_id),
        ).fetchone()[0],
        180,
    )
    before_other = rows_left(superconn, other.agent_id)
    before = rows_left(superconn, victim.agent_id)
    assert sum(1 for n in before.values() if n) >= 12, before

    with operator() as op:
        result = op.execute(
            "CALL memory.drop_agent(%s, confirm => %s, batch_rows => 7)", (victim.name, victim.name)
        ).fetchone()[0]
    assert result["state"] == "done"
    assert result["batches"] > 10
    assert result["removed"]["memory.episodes"] == 40

    assert {k: n for k, n in rows_left(superconn, victim.agent_id).items() if n} == {}
    # the other agent keeps everything; its transient bookkeeping (the cache warmer's
    # change queue, the claim rotation, the quota counters' shards) moves on its own
    transient = {
        "memory.cache_changes.agent_id",
        "memory.claim_turns.agent_id",
        "memory.agent_usage.agent_id",
        "memory.consolidation_progress.agent_id",
    }

    def kept(rows: dict[str, int]) -> dict[str, int]:
        return {k: n for k, n in rows.items() if k not in transient}

    assert kept(rows_left(superconn, other.agent_id)) == kept(before_other)
    assert not cached(superconn, mine), "the query only the victim asked for is gone"
    assert cached(superconn, shared), "the query another agent asked for stays"
    wait_for("no key of the victim in Redis", lambda: not list(r.scan_iter(match=prefix)), 30)
    assert list(r.scan_iter(match=f"mem:{other.agent_id}:*")), "the other agent's keys stay"
    assert not superconn.execute(
        "SELECT pg_has_role(%s, 'memory_agent', 'MEMBER')", (victim.role,)
    ).fetchone()[0]
    # CONNECT on the database came with memory_agent: the login role cannot even connect
    with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
        victim.connect()


def test_an_interrupted_drop_resumes(made, superconn):
    victim = make_agent(superconn, "resumed")
    made.append(victim)
    with victim.connect() as conn, conn.transaction():
        for i in range(300):
            conn.execute("SELECT memory.remember(%s)", (f"episode {i}",))
    pid: list[int] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with operator() as op:
                pid.append(op.execute("SELECT pg_backend_pid()").fetchone()[0])
                op.execute("CALL memory.drop_agent(%s, %s, 1)", (victim.name, victim.name))
        except psycopg.OperationalError as exc:
            failure.append(exc)

    t = threading.Thread(target=run)
    t.start()
    wait_for(
        "a few committed batches",
        lambda: superconn.execute(
            "SELECT EXISTS (SELECT 1 FROM memory.agent_drops WHERE agent_id = %s AND batches >= 20)",
            (victim.agent_id,),
        ).fetchone()[0],
    )
    superconn.execute("SELECT pg_terminate_backend(%s)", (pid[0],))
    t.join(30)
    assert failure, "the drop was interrupted"
    state = superconn.execute(
        "SELECT finished_at IS NULL, batches FROM memory.agent_drops WHERE agent_id = %s",
        (victim.agent_id,),
    ).fetchone()
    assert state[0] and state[1] >= 20
    left = superconn.execute(
        "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (victim.agent_id,)
    ).fetchone()[0]
    assert 0 < left < 300, "committed batches stayed done"
    time.sleep(0.1)
    with operator() as op:
        result = op.execute(
            "CALL memory.drop_agent(%s, confirm => %s)", (victim.name, victim.name)
        ).fetchone()[0]
    assert result["state"] == "done"
    assert result["removed"]["memory.episodes"] == 300
    assert {k: n for k, n in rows_left(superconn, victim.agent_id).items() if n} == {}


def test_drop_agent_inside_a_transaction_block_is_refused(made, superconn):
    victim = make_agent(superconn, "txn")
    made.append(victim)
    with (
        operator() as op,
        pytest.raises(psycopg.errors.InvalidTransactionTermination),
        op.transaction(),
    ):
        op.execute("CALL memory.drop_agent(%s, %s)", (victim.name, victim.name))
    assert (
        superconn.execute(
            "SELECT count(*) FROM memory.agents WHERE agent_id = %s", (victim.agent_id,)
        ).fetchone()[0]
        == 1
    )


# ---------------------------------------------------------------------------------------
# Consolidation (issue 20, item 3) with the daemon's real vectors: the job's batch on one
# agent (memory.run_consolidation would take every agent of this database), its
# thresholds as the job's defaults.
def consolidation_defaults(su: psycopg.Connection) -> tuple[float, float]:
    args = su.execute(
        "SELECT pg_get_function_arguments('memory.run_consolidation'::regproc)"
    ).fetchone()[0]
    cos = float(re.search(r"min_cosine real DEFAULT ([0-9.]+)", args).group(1))
    txt = float(re.search(r"min_text real DEFAULT ([0-9.]+)", args).group(1))
    return cos, txt


def consolidate(su: psycopg.Connection, agent: Agent) -> tuple[int, int, bool]:
    cos, txt = consolidation_defaults(su)
    return su.execute(
        "SELECT examined, merged, busy FROM memory._consolidation_batch(%s, 100, %s::real, %s::real, '0')",
        (agent.agent_id, cos, txt),
    ).fetchone()


def embedded(su: psycopg.Connection, ids: list) -> None:
    wait_for(
        "the daemon's vectors",
        lambda: su.execute(
            "SELECT count(DISTINCT episode_id) = %s FROM memory.chunks WHERE episode_id = ANY(%s)",
            (len(ids), ids),
        ).fetchone()[0],
        timeout=900,
    )


def test_consolidation_merges_real_duplicates_and_export_keeps_the_copy(made, superconn, tmp_path):
    agent = make_agent(superconn, "cons")
    made.append(agent)
    texts = [
        "Mañana llevo el coche al taller: hace un ruido raro al frenar.",
        "mañana llevo el coche al taller, hace un ruido raro al frenar",
        "El coche hace un ruido extraño al frenar, así que mañana lo llevo al mecánico.",
        "We finally painted the living room last weekend.",
    ]
    with agent.connect() as conn:
        ids = [
            conn.execute("SELECT memory.remember(%s, %s::real)", (t, imp)).fetchone()[0]
            for t, imp in zip(texts, (0.4, 0.7, 0.5, 0.5), strict=True)
        ]
        embedded(superconn, ids)
        assert consolidate(superconn, agent)[1] == 1
        merged, kept = superconn.execute(
            "SELECT merged_id, kept_id FROM memory.consolidations WHERE agent_id = %s",
            (agent.agent_id,),
        ).fetchone()
        assert (merged, kept) == (ids[0], ids[1]), "the more important copy is kept"
        found = [
            r[0]
            for r in conn.execute(
                "SELECT episode_id FROM memory.search_episodic_memory(%s, 10, 'text')",
                ("coche taller ruido frenar",),
            ).fetchall()
        ]
        assert ids[1] in found and ids[0] not in found and ids[2] in found
        assert conn.execute("SELECT memory.resolve_episode(%s)", (ids[0],)).fetchone()[0] == ids[1]

    out = tmp_path / "cons.ndjson"
    done = subprocess.run(
        ["bash", "scripts/export-agent.sh", "--agent", agent.name, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    episodes = {
        json.loads(line)["episode_id"]: json.loads(line)["content"]
        for line in out.read_text().splitlines()[1:]
        if json.loads(line)["type"] == "episode"
    }
    assert episodes == {str(i): t for i, t in zip(ids, texts, strict=True)}, (
        "the export carries the merged copy as the episode it was"
    )


def test_consolidation_skips_rows_a_writer_holds_and_never_blocks_others(made, superconn):
    a, b = make_agent(superconn, "consa"), make_agent(superconn, "consb")
    made.extend([a, b])
    with a.connect() as conn_a, b.connect() as conn_b:
        ids = [
            conn_a.execute("SELECT memory.remember(%s)", (t,)).fetchone()[0]
            for t in (
                "Quedamos el viernes en el café de la esquina.",
                "quedamos el viernes en el cafe de la esquina",
            )
        ]
        embedded(superconn, ids)
        # the agent is writing one of the pair: the batch skips it without waiting
        with conn_a.transaction():
            conn_a.execute("SELECT memory.update_episode(%s, tags => ARRAY['busy'])", (ids[0],))
            started = time.monotonic()
            _, merged, busy = consolidate(superconn, a)
            assert (merged, busy) == (0, True) and time.monotonic() - started < 5
        # the next run reads the same batch again and merges; while its transaction holds
        # the agent's rows, another agent writes without waiting
        with psycopg.connect(conninfo(), autocommit=True) as job, job.transaction():
            assert consolidate(job, a)[1:] == (1, False)
            started = time.monotonic()
            conn_b.execute("SET lock_timeout = '2s'")
            new = conn_b.execute("SELECT memory.remember('Beta writes meanwhile')").fetchone()[0]
            conn_b.execute("SELECT memory.update_episode(%s, importance => 0.9)", (new,))
            assert time.monotonic() - started < 2
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.consolidations WHERE agent_id = %s", (a.agent_id,)
            ).fetchone()[0]
            == 1
        )
