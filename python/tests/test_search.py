"""Search through SQL with the real embed daemon: meaning without shared words, hybrid
fusion, and the fall-back to full text when the daemon is really stopped."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from conftest import ROOT, conninfo


@pytest.fixture()
def agent() -> Iterator[psycopg.Connection]:
    """A fresh agent; yields a superuser connection acting as it (session authorization)."""
    role = f"t_search_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        conn.execute("SELECT memory.create_agent(%s, %s)", (role.replace("_", "-"), role))
        conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        try:
            yield conn
        finally:
            conn.execute("RESET SESSION AUTHORIZATION")
            conn.execute("DELETE FROM memory.agents WHERE db_role = %s", (role,))
            conn.execute(f'DROP ROLE "{role}"')


def remember_all(conn: psycopg.Connection, texts: list[str]) -> list[str]:
    ids = [str(conn.execute("SELECT memory.remember(%s)", (t,)).fetchone()[0]) for t in texts]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = conn.execute(
            "SELECT count(*) FROM unnest(%s::uuid[]) AS i"
            " WHERE NOT EXISTS (SELECT 1 FROM memory.chunks c WHERE c.episode_id = i)",
            (ids,),
        ).fetchone()[0]
        if left == 0:
            return ids
        time.sleep(0.2)
    raise AssertionError(f"{left} episodes not embedded within 120 s; is the daemon running?")


TEXTS = [
    "The cat curled up on the warm windowsill and slept all afternoon.",
    "Quarterly revenue grew eleven percent thanks to the new subscription plan.",
    "We decided to use Raft for consensus between the instances.",
    "Decidimos usar PostgreSQL como fuente de verdad.",
]


def test_vector_mode_finds_meaning_without_shared_words(agent):
    ids = remember_all(agent, TEXTS)
    rows = agent.execute(
        "SELECT episode_id::text, vector_score, text_score, matched_chunk"
        " FROM memory.search_episodic_memory('a sleepy kitten resting in the sun', k => 1, mode => 'vector')"
    ).fetchall()
    assert rows[0][0] == ids[0]
    assert rows[0][1] > 0.3 and rows[0][2] is None
    assert rows[0][3] == TEXTS[0]


def test_hybrid_uses_both_lists(agent):
    ids = remember_all(agent, TEXTS)
    rows = agent.execute(
        "SELECT episode_id::text, vector_score, text_score"
        " FROM memory.search_episodic_memory('how did we decide on consensus?', k => 2)"
    ).fetchall()
    assert rows[0][0] == ids[2]
    assert rows[0][1] is not None and rows[0][2] is not None
    # the Spanish episode answers a Spanish question through the Spanish stems and the vector
    es = agent.execute(
        "SELECT episode_id::text FROM memory.search_episodic_memory('¿cuál es la fuente de verdad?', k => 1)"
    ).fetchone()
    assert es[0] == ids[3]


def test_fallback_to_full_text_when_the_daemon_is_stopped(agent):
    ids = remember_all(agent, TEXTS)
    notices: list[str] = []
    agent.add_notice_handler(lambda d: notices.append(d.message_primary))
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "daemon.sh"), "stop"], check=True, capture_output=True
    )
    try:
        rows = agent.execute(
            "SELECT episode_id::text, vector_score FROM memory.search_episodic_memory("
            "'what did we decide about Raft consensus? ' || %s, k => 3)",
            (uuid.uuid4().hex,),  # a query text never embedded before: not in the cache
        ).fetchall()
        ctx = agent.execute(
            "SELECT memory.build_context('Raft consensus ' || %s, 500)", (uuid.uuid4().hex,)
        ).fetchone()[0]
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "daemon.sh"), "start"], check=True, capture_output=True
        )
    assert rows and rows[0][0] == ids[2]
    assert all(r[1] is None for r in rows)
    assert any("vector search unavailable" in n for n in notices)
    assert ctx["search_degraded"] is True
    assert ctx["episodes"][0]["episode_id"] == ids[2]
