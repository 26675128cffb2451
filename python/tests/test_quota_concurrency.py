"""The quota counters must not serialise one agent's concurrent writes (issue 16 against
issue 15): each write adds to its backend's shard of memory.agent_usage, so a session of
an agent whose transaction has written and not yet committed does not hold up another
session of the same agent. With one counter row per agent the second write waits for
the first commit, and its lock_timeout fires (55P03)."""

from __future__ import annotations

import psycopg
import pytest
from testing.stack import superuser, temporary_agents

pytestmark = pytest.mark.timeout(120)


def _session_of(role: str, avoid_shard: int) -> psycopg.Connection:
    """Another session of the agent's role whose backend counts in a different shard."""
    tried = []
    for _ in range(64):
        conn = superuser()
        conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        if conn.info.backend_pid % 16 != avoid_shard:
            for other in tried:
                other.close()
            return conn
        tried.append(conn)
    raise AssertionError("no backend outside the first session's shard in 64 tries")


def test_two_sessions_of_one_agent_write_without_waiting_for_each_other():
    with temporary_agents("Conc") as conns:
        first = conns["Conc"]
        role = first.execute("SELECT session_user").fetchone()[0]
        second = _session_of(role, first.info.backend_pid % 16)
        try:
            with first.transaction():
                first.execute("SELECT memory.remember('first session, not yet committed')")
                second.execute("SET lock_timeout = '2s'")
                # would raise LockNotAvailable (55P03) if the counters were one row per agent
                second.execute("SELECT memory.remember('second session, committed at once')")
            quota = first.execute("SELECT memory.my_quota()").fetchone()[0]
            assert quota["stored_bytes"] == len("first session, not yet committed") + len(
                "second session, committed at once"
            ), "my_quota sums the agent's shards"
            assert quota["episodes_this_minute"] == 2
        finally:
            second.close()


def test_usage_counts_stay_exact_across_shards_after_deletes():
    with temporary_agents("Sum") as conns:
        conn = conns["Sum"]
        ids = [
            conn.execute("SELECT memory.remember(%s)", (f"episode number {i}",)).fetchone()[0]
            for i in range(3)
        ]
        other = _session_of(
            conn.execute("SELECT session_user").fetchone()[0], conn.info.backend_pid % 16
        )
        try:
            other.execute("SELECT memory.forget_episode(%s)", (ids[0],))
        finally:
            other.close()
        quota = conn.execute("SELECT memory.my_quota()").fetchone()[0]
        assert quota["stored_bytes"] == len("episode number 1") + len("episode number 2")
        with superuser() as admin:
            exact = admin.execute(
                "SELECT sum(octet_length(e.content)) FROM memory.episodes AS e "
                "WHERE e.agent_id = (SELECT agent_id FROM memory.episodes WHERE episode_id = %s)",
                (ids[1],),
            ).fetchone()[0]
        assert quota["stored_bytes"] == exact, "the sum of the shards is the bytes stored"
