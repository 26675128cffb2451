"""Every read function of the agents' API runs on a hot standby (issue 18).

Runs against the HA stack (`make up-ha`; `make test-ha` runs this file): an agent's
memory is written on the leader, both standbys replay it, and then every read function
is called as that agent (session user = its login role, so row-level security applies)
on each standby, and its result compared with the leader's. A function that writes
(a search's access log) fails there with 25006 (read-only transaction): those are
marked, not hidden.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from soak_ha.stack import HaStack

# name -> (SQL run as the agent, compare the result with the leader's)
READS: dict[str, tuple[str, bool]] = {
    "current_agent": ("SELECT memory.current_agent()", True),
    "api_version": ("SELECT memory.api_version()", True),
    "schema_version": ("SELECT memory.schema_version()", True),
    "idempotency_retention": ("SELECT memory.idempotency_retention()", True),
    "estimate_tokens": (
        "SELECT memory.estimate_tokens('¿Dónde quedó la reunión del jueves?')",
        True,
    ),
    "chunk_text": ("SELECT * FROM memory.chunk_text(repeat('palabra ', 600), 200, 32)", True),
    "embed_query": ("SELECT memory.embed_query('reunión del jueves')::text", True),
    "episode_embedding": (
        "SELECT memory.episode_embedding(e.episode_id)::text FROM memory.episodes AS e ORDER BY e.episode_id",
        True,
    ),
    "search_episodic_memory(text)": (
        "SELECT episode_id FROM memory.search_episodic_memory('reunión jueves', 5)",
        True,
    ),
    "search_episodic_memory(text, include_shared)": (
        "SELECT episode_id, owner FROM memory.search_episodic_memory('reunión jueves', 5, include_shared => true)",
        True,
    ),
    "shared_with_me": ("SELECT * FROM memory.shared_with_me()", True),
    "my_shares": ("SELECT * FROM memory.my_shares()", True),
    "search_episodic_memory(vector)": (
        "SELECT episode_id FROM memory.search_episodic_memory(memory.embed_query('reunión jueves'), 5, 0.0)",
        True,
    ),
    "search_semantic_memory": (
        "SELECT fact_id FROM memory.search_semantic_memory('Redis caché', 5)",
        True,
    ),
    "search_semantic_memory(as_of)": (
        "SELECT fact_id FROM memory.search_semantic_memory('Redis caché', 5, as_of => now() - interval '1 hour', include_invalid => true)",
        False,
    ),
    "build_context": ("SELECT memory.build_context('reunión jueves', 800) - 'generated_at'", False),
    "build_context_text": ("SELECT memory.build_context_text('reunión jueves', 800)", False),
    "render_context": ("SELECT memory.render_context('{}'::jsonb)", True),
    "resolve_episode": (
        "SELECT memory.resolve_episode(e.episode_id) FROM memory.episodes AS e ORDER BY e.episode_id",
        True,
    ),
    "text_similarity": ("SELECT memory.text_similarity('¿Vienes mañana?', 'vienes mañana')", True),
    "consolidations": ("SELECT count(*) FROM memory.consolidations", True),
    "get_working_memory": ("SELECT working_id, content FROM memory.get_working_memory()", True),
    "get_blocks": ("SELECT label, value, version FROM memory.get_blocks()", True),
    "block_history": ("SELECT version, value FROM memory.block_history('persona')", True),
    "identity_hash": ("SELECT memory.identity_hash()", True),
    "instance_liveness_threshold": ("SELECT memory.instance_liveness_threshold()", True),
    "checkpoints": ("SELECT checkpoint_id, kind FROM memory.checkpoints ORDER BY 1", True),
    "facts as of": (
        "SELECT fact_id FROM memory.facts WHERE valid_from <= now() AND (valid_to IS NULL OR valid_to > now()) ORDER BY 1",
        True,
    ),
    "instances": ("SELECT instance_id, name FROM memory.instances ORDER BY 1", True),
    "decisions": ("SELECT decision_id, status FROM memory.decisions ORDER BY 1", True),
    "idempotency_keys": (
        "SELECT idempotency_key, result_id FROM memory.idempotency_keys ORDER BY 1",
        True,
    ),
    "zep_episodic_memory": ("SELECT count(*) FROM memory.zep_episodic_memory", True),
    "zep_semantic_memory": ("SELECT count(*) FROM memory.zep_semantic_memory", True),
    "zep_working_memory": ("SELECT count(*) FROM memory.zep_working_memory", True),
}
# Functions that write on this branch (the access log of a search; the scale issue takes
# that write off the search path): expected to fail on a standby with 25006 until then.
WRITES_ON_THIS_BRANCH: set[str] = set()


@pytest.fixture(scope="module")
def ha() -> HaStack:
    return HaStack.running()


@pytest.fixture(scope="module")
def agent(ha: HaStack) -> Iterator[str]:
    """A new agent with a memory of every kind, written on the leader and embedded."""
    name = f"Replica{uuid.uuid4().hex[:8]}"
    role = f"agent_{name.lower()}"
    partner = f"Partner{uuid.uuid4().hex[:8]}"
    partner_role = f"agent_{partner.lower()}"
    with ha.connect_leader() as su:
        for who, login in ((name, role), (partner, partner_role)):
            su.execute(f'CREATE ROLE "{login}" LOGIN')
            su.execute("SELECT memory.create_agent(%s, %s)", (who, login))
    # a grant each way, so that my_shares, shared_with_me and include_shared return rows
    with ha.connect_leader() as conn:
        conn.execute(f'SET SESSION AUTHORIZATION "{partner_role}"')
        conn.execute(
            "SELECT memory.remember('La reunión compartida es el jueves', project => 'puente')"
        )
        conn.execute("SELECT memory.share('project', %s, 'puente')", (name,))
    with ha.connect_leader() as conn:
        conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        for text in (
            "La reunión se movió al jueves a las diez",
            "Redis es una caché delante de PostgreSQL",
            "the launch was delayed by rain on Thursday",
        ):
            conn.execute("SELECT memory.remember(%s, idempotency_key => %s)", (text, text[:40]))
        old = conn.execute("SELECT memory.learn_fact('Redis', 'una base de datos')").fetchone()[0]
        conn.execute(
            "SELECT memory.learn_fact('Redis', 'una caché, nunca la fuente de verdad', 0.9, supersedes => ARRAY[%s]::uuid[])",
            (old,),
        )
        conn.execute("SELECT memory.set_working_memory('task', '{\"paso\": 1}', '1 hour')")
        conn.execute("SELECT memory.set_block('persona', 'Soy una memoria replicada')")
        conn.execute("SELECT memory.set_block('persona', 'Soy una memoria replicada, versión 2')")
        conn.execute("SELECT memory.create_checkpoint('manual', '{\"n\": 1}')")
        inst = conn.execute("SELECT memory.register_instance('replica-test')").fetchone()[0]
        conn.execute("SELECT memory.propose_decision('leer en réplicas', '{}')")
        conn.execute("SELECT memory.instance_heartbeat(%s)", (inst,))
        conn.execute("SELECT memory.share('tag', %s, 'replicado')", (partner,))
    ha.wait_embedded(name)
    ha.wait_embedded(partner)
    ha.wait_replayed()
    try:
        yield role
    finally:
        pass  # agents are kept: the HA stack is a scratch stack, dropped by make down-ha && rm -rf var/ha


def run(conn: psycopg.Connection, role: str, sql: str) -> list[tuple[Any, ...]]:
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.rollback() if not conn.autocommit else None
        conn.execute("RESET SESSION AUTHORIZATION")


@pytest.mark.parametrize("name", sorted(READS))
def test_read_function_on_every_standby(ha: HaStack, agent: str, name: str) -> None:
    sql, compare = READS[name]
    if name in WRITES_ON_THIS_BRANCH:
        pytest.xfail("writes on this branch (search access log)")
    with ha.connect_leader() as leader:
        want = run(leader, agent, sql)
    standbys = ha.standbys()
    assert len(standbys) == 2, f"two standbys expected, got {standbys}"
    for node in standbys:
        with ha.connect(node) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0], f"{node} is a standby"
            got = run(conn, agent, sql)
        assert got, f"{name} returned nothing on {node}"
        if compare:
            assert got == want, f"{name} on {node} differs from the leader"


def test_a_search_on_a_standby_sees_a_write_acknowledged_on_the_leader(
    ha: HaStack, agent: str
) -> None:
    """Synchronous replication: once COMMIT returns, the synchronous standby has the WAL
    (remote_apply is not asked, so it may not be visible yet); the lag seen by a search is
    measured, not assumed."""
    text = f"marca de replicación {uuid.uuid4().hex}"
    with ha.connect_leader() as conn:
        conn.execute(f'SET SESSION AUTHORIZATION "{agent}"')
        eid = conn.execute("SELECT memory.remember(%s)", (text,)).fetchone()[0]
    t0 = time.monotonic()
    for node in ha.standbys():
        with ha.connect(node) as conn:
            conn.execute(f'SET SESSION AUTHORIZATION "{agent}"')
            while not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM memory.episodes WHERE episode_id = %s)", (eid,)
            ).fetchone()[0]:
                assert time.monotonic() - t0 < 30, f"{node} did not show the write within 30 s"
                time.sleep(0.01)


def test_a_query_cached_on_the_leader_is_answered_from_the_cache_on_a_standby(
    ha: HaStack, agent: str
) -> None:
    """The query-vector cache is WAL-logged (migration 027): a standby reads its copy. The
    row written on the leader holds a vector the model would never produce, so getting
    it back on a standby proves the answer came from the cache, not from the daemon."""
    text = f"pregunta en caché {uuid.uuid4().hex}"
    fake = "[" + ",".join(["0"] * 383 + ["1"]) + "]"
    with ha.connect_leader() as su:
        su.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
            " SELECT model_id, memory._sha256(%s), %s::vector FROM memory.embedding_models WHERE is_serving",
            (text, fake),
        )
    ha.wait_replayed()
    for node in ha.standbys():
        with ha.connect(node) as conn:
            got = run(conn, agent, f"SELECT memory.embed_query('{text}')::text")
        assert got == [(fake,)], f"{node} did not answer from the replicated cache"
