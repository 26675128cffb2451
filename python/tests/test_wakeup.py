"""Waking the embed daemon: writers notify only while a daemon sleeps, and no wake-up
is lost (docs/DEVELOPING.md, "Waking the embed daemon").

The real cluster and a real daemon process, in a scratch database of this module. The
daemon's poll interval is far longer than the test, so a lost wake-up shows as a job
that is not embedded within seconds.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid

import psycopg
import pytest
from testing.stack import DaemonProcess, ScratchDatabase, wait_for

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "wakeup"
AGENT = "Waker"

pytestmark = pytest.mark.timeout(300)

LOCK_SPACE = 1162691140  # 'EMBD': the wake-up locks' first key (041-embedding-queue.sql)
MODEL = "all-MiniLM-L6-v2"
ROUNDS = 40
WRITERS = 3
PROMPT_SECONDS = 10.0  # a lost wake-up waits for the 900 s poll instead


def model_id(db: ScratchDatabase) -> int:
    with db.connect() as conn:
        return conn.execute(
            "SELECT model_id FROM memory.embedding_models WHERE name = %s", (MODEL,)
        ).fetchone()[0]


def notified(listener: psycopg.Connection, timeout: float) -> list[str]:
    return [n.payload for n in listener.notifies(timeout=timeout)]


def test_writers_notify_only_while_a_daemon_sleeps(db: ScratchDatabase, agent: str) -> None:
    mid = model_id(db)
    with db.connect() as listener, db.as_agent(agent) as writer, db.connect() as sleeper:
        listener.execute("LISTEN memory_embed")
        # no daemon sleeps: the write commits without a notification
        writer.execute("SELECT memory.remember('nobody sleeps')")
        assert notified(listener, 0.5) == []
        # a sleeping daemon holds the model's wake-up lock: the write notifies
        assert (
            sleeper.execute(
                "SELECT memory.embedding_worker_sleep('probe', %s)", ([MODEL],)
            ).fetchone()[0]
            == "asleep"
        )
        writer.execute("SELECT memory.remember('someone sleeps')")
        assert notified(listener, 5.0) == [str(mid)]
        sleeper.execute("SELECT memory.embedding_worker_wake('probe', %s)", ([MODEL],))
        held = sleeper.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_SPACE,),
        ).fetchone()[0]
        assert held == 0, "wake lets go of the lock"

        # a writer between its insert and its commit keeps a daemon from sleeping ...
        with writer.transaction():
            writer.execute("SELECT memory.remember('in flight')")
            assert (
                sleeper.execute(
                    "SELECT memory.embedding_worker_sleep('probe', %s)", ([MODEL],)
                ).fetchone()[0]
                == "busy"
            )
        # ... until it commits; then the daemon's last look at the queue sees the job
        assert (
            sleeper.execute(
                "SELECT memory.embedding_worker_sleep('probe', %s)", ([MODEL],)
            ).fetchone()[0]
            == "asleep"
        )
        pending = sleeper.execute(
            "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'pending'"
        ).fetchone()[0]
        assert pending == 3
        sleeper.execute("SELECT memory.embedding_worker_wake('probe', %s)", ([MODEL],))

        # paused: nothing to claim, no lock taken (resume notifies every daemon)
        sleeper.execute("SELECT memory.pause_embedding('wake-up test')")
        try:
            assert (
                sleeper.execute(
                    "SELECT memory.embedding_worker_sleep('probe', %s)", ([MODEL],)
                ).fetchone()[0]
                == "paused"
            )
        finally:
            sleeper.execute("SELECT memory.resume_embedding()")
        assert str(notified(listener, 5.0)) == "['resume']"


def test_bad_worker_names_are_refused(db: ScratchDatabase) -> None:
    with db.connect() as conn:
        for fn in ("embedding_worker_sleep", "embedding_worker_wake"):
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                conn.execute(f"SELECT memory.{fn}('bad name!', %s)", ([MODEL],))


class Writes:
    """Episodes written by concurrent threads of one round, and their errors."""

    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def write(self, conn: psycopg.Connection, delay: float, hold: float, rnd: int) -> None:
        """remember() after delay seconds, committed hold seconds after the insert."""
        try:
            time.sleep(delay)
            with conn.transaction():
                eid = conn.execute(
                    "SELECT memory.remember(%s)", (f"round {rnd} wakes the daemon",)
                ).fetchone()[0]
                time.sleep(hold)
            with self.lock:
                self.ids.append(eid)
        except BaseException as exc:  # reported by the test
            with self.lock:
                self.errors.append(exc)


def test_no_wake_up_is_lost_racing_writers_against_the_daemon_going_to_sleep(
    db: ScratchDatabase, agent: str
) -> None:
    """Rounds of one write that wakes the daemon, then writes at random offsets while it
    works, delivers and goes back to sleep (some holding their transaction open past the
    daemon's 50 ms lock wait), then quiet: a write whose wake-up is lost has no later
    write to rescue it and waits for the 900 s poll."""
    d = DaemonProcess(db.name, f"wakeup-{uuid.uuid4().hex[:6]}", MEMORY_POLL_SECONDS="900")
    d.start()
    try:
        d.wait_ready()
        d.wait_idle()
        rng = random.Random(16)
        slowest = 0.0
        with contextlib.ExitStack() as stack:
            watcher = stack.enter_context(db.connect())
            conns = [stack.enter_context(db.as_agent(agent)) for _ in range(WRITERS + 1)]
            for rnd in range(ROUNDS):
                out = Writes()
                out.write(conns[0], 0.0, 0.0, rnd)  # the daemon wakes and works
                racers = [
                    threading.Thread(
                        target=out.write,
                        args=(
                            conns[1 + i],
                            rng.uniform(0, 0.08),
                            rng.choice([0.0, 0.0, 0.0, rng.uniform(0, 0.12)]),
                            rnd,
                        ),
                    )
                    for i in range(rng.randint(1, WRITERS))
                ]
                for t in racers:
                    t.start()
                for t in racers:
                    t.join()
                assert not out.errors, out.errors
                started = time.monotonic()

                def done(ids: list[uuid.UUID] = out.ids) -> bool:
                    return watcher.execute(
                        "SELECT count(*) FILTER (WHERE state = 'done') = %s"
                        " FROM memory.embedding_jobs WHERE episode_id = ANY(%s)",
                        (len(ids), ids),
                    ).fetchone()[0]

                wait_for(
                    f"round {rnd}: every job embedded promptly (a lost wake-up waits 900 s)",
                    done,
                    timeout=PROMPT_SECONDS,
                    interval=0.01,
                )
                slowest = max(slowest, time.monotonic() - started)
        assert d.alive()
        assert slowest < PROMPT_SECONDS
    finally:
        d.stop(timeout=20)
