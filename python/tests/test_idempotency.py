"""Idempotency keys under concurrent retries, with real sessions (issue 18).

A client whose COMMIT acknowledgement was lost retries, possibly while the first attempt
is still open on the server. The key's primary key makes the retry wait for the first
attempt: after its COMMIT the retry returns the first id, after its ROLLBACK the retry
writes. The behaviour of one session alone is in sql/tests/idempotency/.
"""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from conftest import waiting_on_lock
from testing.stack import ScratchDatabase, wait_for

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "idemtest"

WRITES = {
    "remember": ("SELECT memory.remember(%s, idempotency_key => %s)", "memory.episodes", "content"),
    "learn_fact": (
        "SELECT memory.learn_fact('Redis', %s, idempotency_key => %s)",
        "memory.facts",
        "statement",
    ),
    "set_working_memory": (
        "SELECT memory.set_working_memory('task', jsonb_build_object('t', %s::text), idempotency_key => %s)",
        "memory.working_memory",
        "content ->> 't'",
    ),
}


@pytest.fixture(scope="module")
def agents(db: ScratchDatabase) -> tuple[str, str]:
    return db.make_agent("Idem"), db.make_agent("Other")


def count(db: ScratchDatabase, op: str, text: str) -> int:
    _, table, column = WRITES[op]
    with db.connect() as conn:
        return conn.execute(
            f"SELECT count(*) FROM {table} WHERE {column} = %s", (text,)
        ).fetchone()[0]


def race(db: ScratchDatabase, role: str, op: str, first: str, second: str, finish: str):
    """Session 1 writes `first` under a key and stays open; session 2 writes `second` under
    the same key and must wait; session 1 then runs `finish` (commit or rollback).
    Returns (id of session 1, id or error of session 2)."""
    sql = WRITES[op][0]
    key = f"race-{uuid.uuid4()}"
    outcome: dict[str, object] = {}
    with db.as_agent(role) as one, db.as_agent(role) as two, db.connect() as watcher:
        one.autocommit = False
        two.execute("SET lock_timeout = '20s'")
        first_id = one.execute(sql, (first, key)).fetchone()[0]

        def retry() -> None:
            try:
                outcome["result"] = two.execute(sql, (second, key)).fetchone()[0]
            except psycopg.Error as exc:
                outcome["result"] = exc

        t = threading.Thread(target=retry)
        t.start()
        pid = two.info.backend_pid
        wait_for("the retry to wait for the first attempt", lambda: waiting_on_lock(watcher, pid))
        getattr(one, finish)()
        t.join(30)
        assert not t.is_alive(), "the retry finished once the first attempt ended"
    return first_id, outcome["result"]


@pytest.mark.parametrize("op", sorted(WRITES))
def test_a_retry_racing_a_committed_write_gets_its_id(db, agents, op) -> None:
    text = f"racing {op} {uuid.uuid4()}"
    first_id, second = race(db, agents[0], op, text, text, "commit")
    assert second == first_id, "the retry returned the first attempt's id"
    assert count(db, op, text) == 1, "exactly one row was stored"


@pytest.mark.parametrize("op", sorted(WRITES))
def test_a_retry_racing_a_rolled_back_write_writes_once(db, agents, op) -> None:
    text = f"rolled back {op} {uuid.uuid4()}"
    first_id, second = race(db, agents[0], op, text, text, "rollback")
    assert isinstance(second, uuid.UUID) and second != first_id
    assert count(db, op, text) == 1, "the retry's row is the only one"


def test_other_content_racing_a_committed_write_is_refused(db, agents) -> None:
    text = f"first content {uuid.uuid4()}"
    _, second = race(db, agents[0], "remember", text, text + " changed", "commit")
    assert isinstance(second, psycopg.errors.UniqueViolation), second
    assert second.diag.message_primary == "idempotency key already used with other arguments"
    assert second.diag.message_hint and "new key" in second.diag.message_hint
    assert count(db, "remember", text) == 1


def test_two_agents_racing_with_the_same_key_string_never_wait_on_each_other(db, agents) -> None:
    key = f"shared-{uuid.uuid4()}"
    sql = WRITES["remember"][0]
    with db.as_agent(agents[0]) as one, db.as_agent(agents[1]) as two:
        one.autocommit = False
        two.execute("SET lock_timeout = '2s'")
        a = one.execute(sql, ("agent one's episode", key)).fetchone()[0]
        b = two.execute(sql, ("agent two's episode", key)).fetchone()[0]
        one.commit()
    assert a != b, "each agent's key is its own"


def test_many_concurrent_retries_store_one_row(db, agents) -> None:
    key = f"burst-{uuid.uuid4()}"
    text = f"burst of retries {key}"
    sql = WRITES["remember"][0]
    results: list[object] = []
    barrier = threading.Barrier(8)

    def client() -> None:
        with db.as_agent(agents[0]) as conn:
            barrier.wait()
            results.append(conn.execute(sql, (text, key)).fetchone()[0])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8 and len(set(results)) == 1, results
    assert count(db, "remember", text) == 1
