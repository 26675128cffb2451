"""Lock order between agents' writes and the embed daemon, and between searches, with real sessions.

A daemon completing a batch locks the embedding jobs (FOR UPDATE) and then, through the
chunks' foreign key, share-locks the episode. A write that takes the same two locks the
other way round deadlocks with it: the soak caught forget_episode doing so (it deleted
the episode, then its jobs by cascade). These tests hold the daemon's first lock in one
session, start the agent's write in another, then take the daemon's second lock. The
last one checks that a search never waits for another agent's open transaction.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
from conftest import waiting_on_lock
from testing.stack import DaemonProcess, ScratchDatabase, wait_for

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "locktest"
AGENT = "Locker"


def run_while_daemon_holds_the_job(db: ScratchDatabase, agent: str, sql: str, eid: object) -> None:
    """Daemon-like session: job FOR UPDATE; the agent's statement starts and must wait
    for that lock alone; then the daemon share-locks the episode and commits."""
    outcome: dict[str, BaseException | None] = {}
    with db.connect() as daemon, db.as_agent(agent) as writer, db.connect() as watcher:
        daemon.autocommit = False
        daemon.execute("SET lock_timeout = '10s'")
        daemon.execute(
            "SELECT 1 FROM memory.embedding_jobs WHERE episode_id = %s FOR UPDATE", (eid,)
        )
        writer.execute("SET lock_timeout = '20s'")
        writer_pid = writer.info.backend_pid

        def write() -> None:
            try:
                writer.execute(sql, (eid,))
                outcome["error"] = None
            except psycopg.Error as exc:
                outcome["error"] = exc

        t = threading.Thread(target=write)
        t.start()
        wait_for("the write to wait for the job lock", lambda: waiting_on_lock(watcher, writer_pid))
        # the second lock of a completion: the chunks' foreign key check on the episode
        daemon.execute("SELECT 1 FROM memory.episodes WHERE episode_id = %s FOR KEY SHARE", (eid,))
        daemon.commit()
        t.join(30)
        assert not t.is_alive(), "the write finished once the daemon committed"
        assert outcome["error"] is None, f"the write failed: {outcome['error']!r}"


def test_forget_takes_the_job_lock_before_the_episode(db, agent):
    with db.as_agent(agent) as conn:
        sql = "SELECT memory.remember('an episode to forget under load')"
        eid = conn.execute(sql).fetchone()[0]
    run_while_daemon_holds_the_job(db, agent, "SELECT memory.forget_episode(%s)", eid)
    with db.connect() as conn:
        gone = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM memory.episodes WHERE episode_id = %s) "
            "AND NOT EXISTS (SELECT 1 FROM memory.embedding_jobs WHERE episode_id = %s)",
            (eid, eid),
        ).fetchone()[0]
    assert gone, "the episode and its job are gone"


def test_update_waits_for_the_job_without_deadlock(db, agent):
    with db.as_agent(agent) as conn:
        sql = "SELECT memory.remember('an episode to rewrite under load')"
        eid = conn.execute(sql).fetchone()[0]
    run_while_daemon_holds_the_job(
        db, agent, "SELECT memory.update_episode(%s, content => 'rewritten while embedded')", eid
    )
    with db.connect() as conn:
        content, state = conn.execute(
            "SELECT e.content, j.state FROM memory.episodes AS e "
            "JOIN memory.embedding_jobs AS j USING (episode_id) WHERE e.episode_id = %s",
            (eid,),
        ).fetchone()
    assert (content, state) == ("rewritten while embedded", "pending"), "new text, queued again"


def test_a_search_never_waits_for_another_agents_open_transaction(db, agent):
    """The query-embedding cache is shared: two agents searching the same text touch the
    same cache row. The second must not wait for the first's transaction to end."""
    other = db.make_agent("Bystander")
    text = "which lock does the cache take?"
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding) "
            "SELECT model_id, sha256(convert_to(%s, 'UTF8')), "
            "array_fill(0.05::real, ARRAY[dimensions])::vector "
            "FROM memory.embedding_models WHERE is_serving",
            (text,),
        )
    search = "SELECT count(*) FROM memory.search_episodic_memory(%s, k => 5)"
    with db.as_agent(agent) as first, db.as_agent(other) as second:
        first.autocommit = False
        first.execute(search, (text,))  # counts its hit: holds the cache row until commit
        notices: list[str] = []
        second.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        # Had it waited for the row, the lock timeout (55P03) would end the wait and
        # search would fall back to full text with a NOTICE.
        second.execute("SET lock_timeout = '3s'")
        second.execute(search, (text,))
        first.commit()
    assert not notices, f"the second search ran without waiting or falling back: {notices}"
    with db.connect() as conn:
        hits = conn.execute(
            "SELECT hits FROM memory.query_embedding_cache "
            "WHERE query_sha256 = sha256(convert_to(%s, 'UTF8'))",
            (text,),
        ).fetchone()[0]
    assert hits == 1, "the first search counted its hit, the second did not wait to count its own"


def test_deleting_an_agent_races_the_daemon_completing_its_jobs_without_deadlock(db):
    """A superuser's cascading DELETE FROM memory.agents against a real daemon that is
    completing the agent's jobs. The daemon's completion is held after it locked the jobs
    (a third session holds a row lock on one old chunk, which the completion replaces),
    the delete starts, then the hold ends. Without the agent's deletion lock the delete
    takes episodes then jobs and the daemon jobs then episodes: 40P01 for one of them."""
    role = db.make_agent(f"Dropped{uuid.uuid4().hex[:4]}")
    d = DaemonProcess(db.name, f"droprace-{uuid.uuid4().hex[:6]}").start().wait_ready()
    try:
        with db.as_agent(role) as agent_conn:
            agent_id = agent_conn.execute("SELECT memory.current_agent()").fetchone()[0]
            for i in range(6):
                agent_conn.execute(
                    "SELECT memory.remember(%s)", (f"una memoria que se borra con su agente {i}",)
                )
        with db.connect() as watcher:

            def embedded() -> bool:
                return watcher.execute(
                    "SELECT count(*) FILTER (WHERE state = 'done') = 6 FROM memory.embedding_jobs "
                    "WHERE agent_id = %s",
                    (agent_id,),
                ).fetchone()[0]

            wait_for("the daemon to embed the agent's episodes", embedded, timeout=120)
            episode = watcher.execute(
                "SELECT episode_id FROM memory.chunks WHERE agent_id = %s LIMIT 1", (agent_id,)
            ).fetchone()[0]
            with db.connect() as holder, db.connect() as deleter, db.connect() as operator:
                holder.autocommit = False
                holder.execute(
                    "SELECT 1 FROM memory.chunks WHERE episode_id = %s FOR UPDATE", (episode,)
                )
                operator.execute("SET ROLE memory_operator")
                assert operator.execute("SELECT memory.reembed(true)").fetchone()[0] >= 6

                def completion_waits() -> bool:
                    return watcher.execute(
                        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
                        "AND query LIKE '%%complete_embedding_batch%%' AND wait_event_type = 'Lock'"
                    ).fetchone()[0]

                wait_for(
                    "the daemon's completion to wait for the held chunk",
                    completion_waits,
                    timeout=120,
                )
                # the deleter runs the deadlock check first, so that it is the victim
                deleter.execute("SET deadlock_timeout = '100ms'")
                outcome: dict[str, BaseException | None] = {}

                def delete() -> None:
                    try:
                        deleter.execute(
                            "DELETE FROM memory.agents WHERE agent_id = %s", (agent_id,)
                        )
                        outcome["error"] = None
                    except psycopg.Error as exc:
                        outcome["error"] = exc

                thread = threading.Thread(target=delete)
                thread.start()
                wait_for(
                    "the delete to wait for a lock",
                    lambda: waiting_on_lock(watcher, deleter.info.backend_pid),
                )
                holder.rollback()
                thread.join(60)
                assert not thread.is_alive(), "the delete finished"
            assert outcome["error"] is None, f"the delete failed: {outcome['error']!r}"
            assert (
                watcher.execute(
                    "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (agent_id,)
                ).fetchone()[0]
                == 0
            )
            time.sleep(1)  # the daemon logs a failed completion at once
            log = d.log_path.read_text(errors="replace")
            assert "deadlock" not in log.lower(), "the daemon's completion hit a deadlock"
            assert d.alive()
    finally:
        d.stop()
