"""The write hot path (migration 021, issues 16 and 15) with real sessions and the real daemon.

- The queued-jobs quota reads a counter that the triggers of memory.embedding_jobs keep:
  in any one snapshot the sum of an agent's counter shards equals its pending jobs, while
  several sessions write and the stack's daemon claims and completes.
- The jobs have no foreign keys to their episodes and facts: memory.reembed(), the one
  writer of jobs for rows it did not insert or lock itself, must not leave a job behind
  for an episode deleted at the same moment, whichever of the two goes first.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from conftest import waiting_on_lock
from testing.stack import ScratchDatabase, superuser, temporary_agents, wait_for

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "hotpath"

pytestmark = pytest.mark.timeout(240)

COUNTER_EQUALS_QUEUE = """
SELECT (SELECT coalesce(sum(u.pending_jobs), 0) FROM memory.agent_usage AS u WHERE u.agent_id = a.agent_id),
       (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.agent_id = a.agent_id AND j.state = 'pending')
FROM memory.agents AS a WHERE a.db_role = %s
"""


def test_counter_equals_the_queue_in_every_snapshot_while_writers_and_the_daemon_run():
    with temporary_agents("Hot") as conns:
        role = conns["Hot"].execute("SELECT session_user").fetchone()[0]
        sessions = [conns["Hot"]] + [superuser() for _ in range(3)]
        for conn in sessions[1:]:
            conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        errors: list[BaseException] = []

        def write(conn: psycopg.Connection, n: int) -> None:
            try:
                for i in range(15):
                    conn.execute(
                        "SELECT memory.remember(%s)", (f"hot path writer {n} episode {i}",)
                    )
                    if i % 5 == 4:
                        conn.execute(
                            "SELECT memory.forget_episode(e.episode_id) FROM memory.episodes AS e "
                            "WHERE e.content = %s",
                            (f"hot path writer {n} episode {i - 1}",),
                        )
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(c, n)) for n, c in enumerate(sessions)]
        samples = []
        with superuser() as admin:
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                samples.append(admin.execute(COUNTER_EQUALS_QUEUE, (role,)).fetchone())
            for t in threads:
                t.join()
            assert not errors, errors
            assert len(samples) > 3, "the writers ran long enough to be sampled"
            assert all(counted == queued for counted, queued in samples), (
                f"counter and queue differ in some snapshot: {[s for s in samples if s[0] != s[1]]}"
            )
            # the stack's daemon drains the agent's queue: the counter goes back to zero
            wait_for(
                "the daemon to embed the writers' episodes",
                lambda: admin.execute(COUNTER_EQUALS_QUEUE, (role,)).fetchone() == (0, 0),
                timeout=180,
            )
            shards = admin.execute(
                "SELECT count(*) FILTER (WHERE u.shard >= 16 AND u.pending_jobs < 0) "
                "FROM memory.agent_usage AS u JOIN memory.agents AS a USING (agent_id) WHERE a.db_role = %s",
                (role,),
            ).fetchone()[0]
            assert shards >= 1, "the daemon's claims count in its own shards (16..31)"
        for conn in sessions[1:]:
            conn.close()


def _episode_without_job(db: ScratchDatabase, role: str, text: str) -> str:
    with db.as_agent(role) as conn:
        episode = conn.execute("SELECT memory.remember(%s)", (text,)).fetchone()[0]
    with db.connect() as conn:
        conn.execute("DELETE FROM memory.embedding_jobs WHERE episode_id = %s", (episode,))
    return str(episode)


def _orphans(db: ScratchDatabase) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.episode_id IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = j.episode_id)"
            ).fetchone()[0]
        )


@pytest.mark.parametrize("first", ["delete", "reembed"])
def test_reembed_racing_a_delete_leaves_no_job_behind(db: ScratchDatabase, first: str):
    role = db.make_agent(f"Race{first}")
    episode = _episode_without_job(
        db, role, f"an episode deleted while reembed runs ({first} first)"
    )
    with db.connect() as deleter, db.connect() as reembedder, db.connect() as watcher:
        deleter.autocommit = False
        reembedder.autocommit = False
        reembedder.execute("SET ROLE memory_operator")
        holder, waiter = (deleter, reembedder) if first == "delete" else (reembedder, deleter)
        if first == "delete":
            holder.execute("DELETE FROM memory.episodes WHERE episode_id = %s", (episode,))
        else:
            assert holder.execute("SELECT memory.reembed()").fetchone()[0] >= 1
        done: list[object] = []

        def second() -> None:
            if waiter is deleter:
                waiter.execute("DELETE FROM memory.episodes WHERE episode_id = %s", (episode,))
            else:
                done.append(waiter.execute("SELECT memory.reembed()").fetchone()[0])
            waiter.commit()

        thread = threading.Thread(target=second)
        thread.start()
        # with the owner locked as the foreign key did, the second one waits for the first
        wait_for(
            "the second session to wait for the first one's lock (or to be done)",
            lambda: waiting_on_lock(watcher, waiter.info.backend_pid) or not thread.is_alive(),
        )
        holder.commit()
        thread.join(30)
        assert not thread.is_alive()
    assert _orphans(db) == 0, f"a job was left for the deleted episode ({first} first)"


USAGE_AND_RECOUNT = """
SELECT (SELECT coalesce(sum(u.stored_bytes), 0) FROM memory.agent_usage AS u WHERE u.agent_id = a.agent_id),
       (SELECT coalesce(sum(octet_length(e.content)), 0) FROM memory.episodes AS e WHERE e.agent_id = a.agent_id),
       (SELECT coalesce(sum(u.pending_jobs), 0) FROM memory.agent_usage AS u WHERE u.agent_id = a.agent_id),
       (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.agent_id = a.agent_id AND j.state = 'pending'),
       (SELECT coalesce(sum(u.window_episodes), 0) FROM memory.agent_usage AS u WHERE u.agent_id = a.agent_id),
       (SELECT count(*) FROM memory.agent_usage_tx AS t WHERE t.agent_id = a.agent_id)
FROM memory.agents AS a WHERE a.db_role = %s
"""


@pytest.mark.parametrize("fold", ["at commit", "immediate"])
def test_long_transaction_counts_fold_at_commit_exactly(db: ScratchDatabase, fold: str):
    """Migration 023: the counts of a long transaction beyond its first two are running
    totals in memory.agent_usage_tx, folded into the counters at commit (or at the end of
    each statement after SET CONSTRAINTS ALL IMMEDIATE); a rollback leaves nothing."""
    role = db.make_agent("Longtx" + fold.replace(" ", ""))
    texts = [f"long transaction row {i} ({fold})" for i in range(400)]
    with db.as_agent(role) as conn:
        with conn.transaction():
            if fold == "immediate":
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO memory.episodes (content) VALUES (%s)", [(t,) for t in texts]
                )
            for i in range(0, 40, 4):
                conn.execute(
                    "SELECT memory.forget_episode(e.episode_id) FROM memory.episodes AS e "
                    "WHERE e.content = %s",
                    (texts[i],),
                )
            quota = conn.execute("SELECT memory.my_quota()").fetchone()[0]
            assert quota["queued_jobs"] == 390, (
                "inside the transaction the agent sees its own counts"
            )
        with db.connect() as admin:
            stored, recount, counted, queued, window, running = admin.execute(
                USAGE_AND_RECOUNT, (role,)
            ).fetchone()
            assert (stored, counted, window) == (recount, queued, 400), (
                "the counters after the commit"
            )
            assert queued == 390 and running == 0, (
                "the fold deleted the transaction's running totals"
            )
        with pytest.raises(psycopg.errors.RaiseException), conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO memory.episodes (content) VALUES (%s)",
                    [(f"rolled back {i}",) for i in range(50)],
                )
            conn.execute("DO $$ BEGIN RAISE EXCEPTION 'roll back'; END $$")
        with db.connect() as admin:
            assert admin.execute(USAGE_AND_RECOUNT, (role,)).fetchone() == (
                stored,
                recount,
                counted,
                queued,
                window,
                0,
            ), "a rolled-back long transaction leaves the counters as they were"
