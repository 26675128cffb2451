"""The scale benchmark (``make bench-scale``; outside ``make test`` and CI).

For each size (default 100,000 then 1,000,000 episodes), in a scratch database built by
the project's migrations: 200 agents, one holding 10% of the episodes ("big"), one
holding 10 ("small"), the others sharing the rest (one of them is "middle"). Embedding a
million texts on 2 CPU cores would take days, so the VECTORS ARE SYNTHETIC: clustered
unit vectors of 384 dimensions (400 centroids, Gaussian spread), written directly into
memory.chunks (the real table and its real partial HNSW index); the texts are synthetic
too (Zipf-drawn words, as in the search bench); each agent's episodes come in sessions of
20, one second apart, so that hybrid search has session neighbours to pull in. Measured
per size:

- HNSW build: time and size of the model's index (over the vectors cast to halfvec since
  migration 032), then of the same index over the vectors themselves (vector), beside it
  for the comparison;
- search for the big, middle and small agent (queries are fresh points of the agents'
  own clusters, their vectors cached so the query embedding is excluded): hybrid search
  latency (memory.search_episodic_memory as it is), vector-mode search latency and
  recall@10 against exact search (the planner's plan), and through the HNSW index only
  (b-tree indexes dropped in a rolled-back transaction) with vector and with halfvec;
- ingest through memory.remember() (triggers, row-level security, queue) with pgbench:
  alone, then while a real embed daemon backfills a queued backlog (its HNSW inserts
  into the big index) and a client runs hybrid searches.

Writes reports/bench-scale.md, reports/data/scale.json and reports/plots/scale.png.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import psycopg.sql
from embed_daemon.config import VectorBinaryDumper
from testing.stack import DaemonProcess, wait_for

from bench import common
from bench.bench_erasure import LockSampler, Writer
from bench.bench_erasure import summary_of as latency_summary
from bench.bench_load import run_pgbench
from bench.bench_search import drop_db, make_agents, make_db, pct

log = logging.getLogger("bench.scale")
DIMS = 384
CENTROIDS = 400
SPREAD = 0.6  # per-dimension Gaussian spread around a centroid (as bench_search)
ROLE_PREFIX = "bench_scale_"
SMALL = 10
BIG_SHARE = 0.10
MIDDLE = 2  # agent index of the middle agent (agent 0 is big, agent 1 is small)
JOBS_WRITER = f"{ROLE_PREFIX}writer"  # an agent of no synthetic rows, writing during the jobs
RETENTION_KEEP = 0.9  # the big agent's retention policy keeps this share of its episodes
RETENTION_SCHEDULE_S = 600  # memory-retention: */10 * * * * (migration 017)
CONSOLIDATION_SCHEDULE_S = 900  # memory-consolidation: */15 * * * * (migration 022)
CONSOLIDATION_RUNS = 5
KINDS = ("big", "middle", "small")


@dataclass
class AgentFigures:
    episodes: int
    hybrid_ms: list[float] = field(default_factory=list)
    vector_ms: list[float] = field(default_factory=list)
    exact_ms: list[float] = field(default_factory=list)
    recall_planner: list[float] = field(default_factory=list)
    hnsw_ms: list[float] = field(default_factory=list)
    recall_hnsw: list[float] = field(default_factory=list)
    halfvec_ms: list[float] = field(default_factory=list)
    recall_halfvec: list[float] = field(default_factory=list)


@dataclass
class SizeFigures:
    episodes: int
    load_s: float = 0.0
    other_indexes_s: float = 0.0
    hnsw_build_s: float = 0.0
    hnsw_bytes: int = 0
    halfvec_build_s: float = 0.0
    halfvec_bytes: int = 0
    table_bytes: int = 0
    own_index_s: float = 0.0  # make agent-indexes: the indexes of the agents over the exact bound
    own_index_bytes: int = 0
    own_indexes: int = 0
    agents: dict[str, AgentFigures] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def register_vector(conn: psycopg.Connection) -> int:
    oid = conn.execute("SELECT 'public.vector'::regtype::oid").fetchone()[0]
    dumper = type("ScaleVectorDumper", (VectorBinaryDumper,), {"oid": oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    return int(oid)


class Corpus:
    """The synthetic agents, texts, vectors and queries of one size."""

    def __init__(self, n: int, agents: int, seed: int) -> None:
        self.n = n
        self.rng = np.random.default_rng(seed)
        self.centroids = self.rng.normal(size=(CENTROIDS, DIMS)).astype(np.float32)
        n_big = int(n * BIG_SHARE)
        rest = n - n_big - SMALL
        self.owner = np.concatenate(
            [
                np.zeros(n_big, dtype=np.int32),
                np.ones(SMALL, dtype=np.int32),
                self.rng.integers(2, agents, size=rest, dtype=np.int32),
            ]
        )
        self.rng.shuffle(self.owner)
        # each agent's episodes in sessions of 20, one second apart (as bench_search):
        # hybrid search has session neighbours to pull in
        order = np.argsort(self.owner, kind="stable")
        starts = np.searchsorted(self.owner[order], self.owner[order])
        self.nth = np.empty(n, dtype=np.int64)
        self.nth[order] = np.arange(n) - starts
        self.cluster = self.rng.integers(0, CENTROIDS, size=n, dtype=np.int32)
        vocab_size = 30_000
        zipf = 1.0 / np.arange(101, vocab_size + 101)
        self.zipf = zipf / zipf.sum()

    def vectors(self, idx: np.ndarray) -> np.ndarray:
        noise = self.rng.normal(scale=SPREAD, size=(len(idx), DIMS)).astype(np.float32)
        return unit(self.centroids[self.cluster[idx]] + noise)

    def texts(self, idx: np.ndarray) -> list[str]:
        words = self.rng.choice(len(self.zipf), size=(len(idx), 24), p=self.zipf)
        return [
            " ".join(f"w{w:05d}" for w in row) + f" topic{self.cluster[i]}"
            for row, i in zip(words, idx, strict=True)
        ]

    def queries(self, agent: int, count: int) -> np.ndarray:
        """Fresh points of clusters the agent holds (as a new memory's vector would be)."""
        own = self.cluster[self.owner == agent]
        picks = own[self.rng.integers(0, len(own), size=count)]
        noise = self.rng.normal(scale=SPREAD, size=(count, DIMS)).astype(np.float32)
        return unit(self.centroids[picks] + noise)


SECONDARY = (
    "memory.episodes",
    "memory.chunks",
)


def secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the non-unique, non-constraint indexes of the loaded tables."""
    return conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
        " JOIN pg_class AS c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = ANY (%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary",
        (list(SECONDARY),),
    ).fetchall()


def load(conn: psycopg.Connection, corpus: Corpus, agents: int, f: SizeFigures) -> list[str]:
    """Agents, then episodes and their one-chunk vectors by binary COPY (triggers off, the
    secondary indexes dropped and rebuilt after); then the HNSW index, timed."""
    roles = [f"{ROLE_PREFIX}{i:03d}" for i in range(agents)]
    agent_ids = make_agents(conn, roles)
    # pgbench's writers and the jobs' writer write thousands of episodes a minute, faster
    # than a daemon embeds them: the default quotas (6,000 episodes a minute, 10,000 queued
    # jobs) would refuse them in this scratch database
    conn.execute(
        "UPDATE memory.quota_settings SET max_episodes_per_minute = 10000000,"
        " max_queued_jobs = 10000000, max_stored_bytes = 1000000000000"
    )
    model_id = conn.execute(
        "SELECT model_id FROM memory.embedding_models WHERE is_serving"
    ).fetchone()[0]
    indexes = secondary_indexes(conn)
    hnsw_name = f"chunks_embedding_model_{model_id}_idx"
    for name, _ in indexes:
        conn.execute(f'DROP INDEX memory."{name}"')
    vec_oid = register_vector(conn)
    conn.execute("SET session_replication_role = replica")  # no jobs for synthetic rows
    t0 = time.monotonic()
    batch = 20_000
    agent_uuid = [uuid.UUID(str(a)) for a in agent_ids]
    sha = b"\x00" * 32
    for start in range(0, corpus.n, batch):
        idx = np.arange(start, min(corpus.n, start + batch))
        ids = [uuid.uuid4() for _ in idx]
        texts = corpus.texts(idx)
        vecs = corpus.vectors(idx)
        owners = [agent_uuid[o] for o in corpus.owner[idx]]
        with conn.cursor() as cur:
            with cur.copy(
                "COPY memory.episodes (episode_id, agent_id, content, importance, occurred_at,"
                " session_id) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(["uuid", "uuid", "text", "float4", "timestamptz", "text"])
                when = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
                for i, k in enumerate(idx):
                    nth = int(corpus.nth[k])
                    cp.write_row(
                        (
                            ids[i],
                            owners[i],
                            texts[i],
                            0.5,
                            when + datetime.timedelta(seconds=nth),
                            f"session-{nth // 20}",
                        )
                    )
            with cur.copy(
                "COPY memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start,"
                " char_end, content_sha256, embedding) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(["uuid", "uuid", "int2", "int4", "int4", "int4", "bytea", vec_oid])
                for i in range(len(idx)):
                    cp.write_row((owners[i], ids[i], model_id, 0, 0, len(texts[i]), sha, vecs[i]))
        if (start // batch) % 10 == 0:
            log.info("loaded %d/%d", start + len(idx), corpus.n)
    conn.execute("RESET session_replication_role")
    f.load_s = time.monotonic() - t0
    conn.execute("SET maintenance_work_mem = '3GB'")
    t0 = time.monotonic()
    for name, definition in indexes:
        if name != hnsw_name:
            conn.execute(definition)
    f.other_indexes_s = time.monotonic() - t0
    conn.execute("VACUUM ANALYZE memory.episodes")
    conn.execute("VACUUM ANALYZE memory.chunks")
    t0 = time.monotonic()
    conn.execute(dict(indexes)[hnsw_name])
    # the schema's index is over halfvec (migration 032)
    f.halfvec_build_s = time.monotonic() - t0
    f.halfvec_bytes = conn.execute(f"SELECT pg_relation_size('memory.{hnsw_name}')").fetchone()[0]
    f.table_bytes = conn.execute("SELECT pg_total_relation_size('memory.chunks')").fetchone()[0]
    conn.execute("RESET maintenance_work_mem")
    log.info(
        "%d episodes: load %.0f s, other indexes %.0f s, HNSW (halfvec) %.0f s (%.0f MB)",
        corpus.n,
        f.load_s,
        f.other_indexes_s,
        f.halfvec_build_s,
        f.halfvec_bytes / 1e6,
    )
    return roles


def build_own_indexes(db: str, conn: psycopg.Connection, f: SizeFigures) -> None:
    """What an operator does once an agent outgrows exact ranking: `make agent-indexes`
    (scripts/agent-indexes.sh, CREATE INDEX CONCURRENTLY per agent), timed."""
    env = dict(os.environ, PGDATABASE=db)
    t0 = time.monotonic()
    subprocess.run(
        ["bash", str(common.ROOT / "scripts" / "agent-indexes.sh"), "--memory-db", db],
        env=env,
        check=True,
        capture_output=True,
    )
    f.own_index_s = time.monotonic() - t0
    f.own_indexes, f.own_index_bytes = conn.execute(
        "SELECT count(*), coalesce(sum(pg_relation_size(i.indexrelid)), 0)::bigint FROM pg_index AS i"
        " JOIN pg_class AS c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'memory.chunks'::regclass AND c.relname ~ '^chunks_agent_[0-9a-f]{32}_model_'"
    ).fetchone()
    log.info(
        "own HNSW indexes: %d in %.0f s (%.0f MB)",
        f.own_indexes,
        f.own_index_s,
        f.own_index_bytes / 1e6,
    )
    # what the hourly job memory-frequent-lexemes has done on a memory in use: each
    # agent's words in 1,000 of its rows or more, which the search then skips uncounted
    t0 = time.monotonic()
    while conn.execute("SELECT memory.refresh_frequent_lexemes(1000)").fetchone()[0] > 0:
        pass
    log.info("frequent-word lists refreshed in %.0f s", time.monotonic() - t0)


def build_vector_index(conn: psycopg.Connection, f: SizeFigures) -> None:
    """The model's index as it was before migration 032 (over the vectors themselves),
    beside the schema's halfvec one, for the comparison only."""
    conn.execute("SET maintenance_work_mem = '3GB'")
    t0 = time.monotonic()
    conn.execute(
        "CREATE INDEX bench_chunks_vector_idx ON memory.chunks"
        f" USING hnsw ((embedding::public.vector({DIMS})) public.vector_cosine_ops) WHERE model_id = 1"
    )
    f.hnsw_build_s = time.monotonic() - t0
    f.hnsw_bytes = conn.execute(
        "SELECT pg_relation_size('memory.bench_chunks_vector_idx')"
    ).fetchone()[0]
    conn.execute("RESET maintenance_work_mem")
    log.info("vector HNSW %.0f s (%.0f MB)", f.hnsw_build_s, f.hnsw_bytes / 1e6)


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


def cache_queries(conn: psycopg.Connection, kind: str, qv: np.ndarray) -> list[str]:
    """Caches each query's vector under a query text, so searches skip the daemon."""
    texts = []
    for i, v in enumerate(qv):
        text = f"scale query {kind} {i}: w{i * 7 % 3000:05d} w{i * 13 % 3000:05d}"
        conn.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
            " SELECT model_id, memory._sha256(%s), %s::vector FROM memory.embedding_models"
            " WHERE is_serving ON CONFLICT DO NOTHING",
            (text, vec_text(v)),
        )
        texts.append(text)
    return texts


def timed(conn: psycopg.Connection, sql: str, args: tuple) -> tuple[list[Any], float]:
    t0 = time.perf_counter()
    rows = [r[0] for r in conn.execute(sql, args).fetchall()]
    return rows, 1000 * (time.perf_counter() - t0)


VECTOR_SEARCH = (
    "SELECT episode_id FROM memory.search_episodic_memory(%s, k => 10, mode => 'vector',"
    " recency_weight => 0, importance_weight => 0)"
)
HYBRID_SEARCH = "SELECT episode_id FROM memory.search_episodic_memory(%s, k => 10)"
EXACT = (
    "SELECT episode_id FROM memory.chunks WHERE agent_id = %s AND model_id = 1"
    f" ORDER BY embedding::public.vector({DIMS}) <=> %s::public.vector({DIMS}) LIMIT 10"
)
ANN_VECTOR = (
    "SELECT episode_id FROM memory.chunks WHERE agent_id = %s AND model_id = 1"
    f" ORDER BY embedding::public.vector({DIMS}) <=> %s::public.vector({DIMS}) LIMIT 10"
)
ANN_HALFVEC = (
    "SELECT episode_id FROM memory.chunks WHERE agent_id = %s AND model_id = 1"
    f" ORDER BY embedding::public.halfvec({DIMS}) <=> %s::public.halfvec({DIMS}) LIMIT 10"
)


def recall(got: list[Any], exact: list[Any]) -> float:
    return len(set(got) & set(exact)) / max(1, len(exact))


def measure_search(
    conn: psycopg.Connection,
    role: str,
    agent_id: Any,
    texts: list[str],
    qv: np.ndarray,
    a: AgentFigures,
) -> list[list[Any]]:
    """Hybrid and vector search as the agent; exact search as the operator."""
    exact_lists = []
    for v in qv:
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            ex, ms = timed(conn, EXACT, (agent_id, vec_text(v)))
        exact_lists.append(ex)
        a.exact_ms.append(ms)
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        for t in texts[:5]:  # warm-up: plans, caches
            conn.execute(HYBRID_SEARCH, (t,)).fetchall()
        for t, ex in zip(texts, exact_lists, strict=True):
            _, ms = timed(conn, HYBRID_SEARCH, (t,))
            a.hybrid_ms.append(ms)
            got, ms = timed(conn, VECTOR_SEARCH, (t,))
            a.vector_ms.append(ms)
            a.recall_planner.append(recall(got, ex))
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")
    return exact_lists


def measure_index_only(
    conn: psycopg.Connection, agent_id: Any, qv: np.ndarray, exact: list[list[Any]], a: AgentFigures
) -> None:
    """Top 10 through the HNSW indexes alone (vector, then halfvec): the b-tree ways in
    are dropped inside a transaction that is rolled back. Same settings as the search
    function (iterative scan, relaxed order; ef_search 100)."""
    with conn.transaction(force_rollback=True):
        conn.execute("DROP INDEX memory.chunks_agent_model_idx")
        conn.execute("DROP INDEX memory.chunks_episode_idx")
        # the shared graphs: an agent's own index (make agent-indexes) goes too
        for (name,) in conn.execute(
            "SELECT c.relname FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'memory.chunks'::regclass AND c.relname ~ '^chunks_agent_[0-9a-f]{32}_model_'"
        ).fetchall():
            conn.execute(f'DROP INDEX memory."{name}"')
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.execute("SET LOCAL hnsw.ef_search = 100")
        conn.execute("SET LOCAL enable_seqscan = off")
        for v, ex in zip(qv, exact, strict=True):
            got, ms = timed(conn, ANN_VECTOR, (agent_id, vec_text(v)))
            a.hnsw_ms.append(ms)
            a.recall_hnsw.append(recall(got, ex))
            got, ms = timed(conn, ANN_HALFVEC, (agent_id, vec_text(v)))
            a.halfvec_ms.append(ms)
            a.recall_halfvec.append(recall(got, ex))


def ingest(
    db: str,
    conn: psycopg.Connection,
    role: str,
    texts: list[str],
    seconds: int,
    clients: int,
    backlog: int,
) -> dict[str, Any]:
    """remember() through pgbench alone, then beside a backfilling daemon and a searcher."""
    password = secrets.token_urlsafe(24)
    conn.execute(
        psycopg.sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
        )
    )
    script = (
        "\\set n random(1, 1000000000)\n"
        "SELECT memory.remember('scale ingest ' || :n || ' about w' || (:n % 3000)"
        " || ' and topic ' || (:n % 400), importance => 0.5);\n"
    )
    out: dict[str, Any] = {"clients": clients, "seconds": seconds, "backlog": backlog}
    alone, _ = run_pgbench(db, script, clients, seconds, password, role=role)
    out["alone_tps"] = alone["tps"]
    out["alone_p95_ms"] = alone["p95"]
    # the backlog: episodes queued in one statement (the trigger path), embedded by a
    # real daemon while pgbench writes and a client searches
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    conn.execute(
        "INSERT INTO memory.episodes (content) SELECT 'backfill episode ' || i || ' about w'"
        " || (i %% 3000) FROM generate_series(1, %s) AS i",
        (backlog,),
    )
    conn.execute("RESET SESSION AUTHORIZATION")
    done0 = conn.execute(
        "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'done'"
    ).fetchone()[0]
    # small batches: the backfill rate is counted in completed jobs over the window
    daemon = DaemonProcess(
        db, f"scale-{uuid.uuid4().hex[:6]}", MEMORY_POLL_SECONDS="1", MEMORY_BATCH_JOBS="32"
    )
    daemon.start()
    search_ms: list[float] = []
    stop = threading.Event()
    try:
        daemon.wait_ready()
        wait_for(
            "the daemon to start the backfill",
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'done'"
                ).fetchone()[0]
                > done0
            ),
            timeout=300,
        )

        def searcher() -> None:
            with psycopg.connect(dbname=db, autocommit=True) as sc:
                sc.execute(f'SET SESSION AUTHORIZATION "{role}"')
                i = 0
                while not stop.is_set():
                    _, ms = timed(sc, HYBRID_SEARCH, (texts[i % len(texts)],))
                    search_ms.append(ms)
                    i += 1

        th = threading.Thread(target=searcher, daemon=True)
        d0 = conn.execute(
            "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'done'"
        ).fetchone()[0]
        t0 = time.monotonic()
        th.start()
        busy, _ = run_pgbench(db, script, clients, seconds, password, role=role)
        elapsed = time.monotonic() - t0
        d1 = conn.execute(
            "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'done'"
        ).fetchone()[0]
        stop.set()
        th.join()
    finally:
        stop.set()
        daemon.stop(timeout=30)
    out["busy_tps"] = busy["tps"]
    out["busy_p95_ms"] = busy["p95"]
    out["backfill_jobs_per_s"] = (d1 - d0) / elapsed
    out["search_p50_ms"] = pct(search_ms, 50)
    out["search_p95_ms"] = pct(search_ms, 95)
    out["searches"] = len(search_ms)
    return out


def lifetime_jobs(
    db: str, conn: psycopg.Connection, big_role: str, baseline_s: float = 10
) -> dict[str, Any]:
    """The retention and consolidation jobs (issue 20) on the loaded database, as pg_cron
    runs them (one call = one scheduled run), while another agent writes: each run's
    duration against its schedule, and the writer's latencies and longest wait on a lock
    before and during the jobs."""
    conn.execute(f'DROP ROLE IF EXISTS "{JOBS_WRITER}"')
    conn.execute(f'CREATE ROLE "{JOBS_WRITER}" NOLOGIN')
    conn.execute("SELECT memory.create_agent(%s, %s)", (JOBS_WRITER.replace("_", "-"), JOBS_WRITER))
    big_name = big_role.replace("_", "-")
    big_episodes = conn.execute(
        "SELECT count(*) FROM memory.episodes AS e JOIN memory.agents AS a USING (agent_id)"
        " WHERE a.db_role = %s",
        (big_role,),
    ).fetchone()[0]
    keep = int(big_episodes * RETENTION_KEEP)
    conn.execute(
        "SELECT memory.set_retention_policy(max_episodes => %s, agent => %s)", (keep, big_name)
    )
    out: dict[str, Any] = {"big_episodes": big_episodes, "retention_keep": keep}
    writer = Writer(db, JOBS_WRITER)
    sampler = LockSampler(db, writer.pid)
    sampler.start()
    writer.start()
    try:
        time.sleep(baseline_s)
        out["writer_baseline"] = latency_summary(writer.phase)
        out["baseline_max_lock_wait_ms"] = max(sampler.waits, default=0.0)
        writer.phase, sampler.waits = [], []
        runs, removed = [], 0
        while True:
            t0 = time.monotonic()
            n = conn.execute("SELECT memory.apply_retention()").fetchone()[0]
            runs.append(time.monotonic() - t0)
            removed += n
            if n == 0 or len(runs) >= 100:
                break
        out["retention_runs_s"] = runs
        out["retention_removed"] = removed
        out["writer_retention"] = latency_summary(writer.phase)
        out["retention_max_lock_wait_ms"] = max(sampler.waits, default=0.0)
        writer.phase, sampler.waits = [], []
        # min_age 0: the synthetic vectors were all stored at load time, minutes ago; the
        # job's default (1 hour) would leave them alone in this run
        cons = []
        for _ in range(CONSOLIDATION_RUNS):
            t0 = time.monotonic()
            r = conn.execute(
                "SELECT memory.run_consolidation(min_age => interval '0 seconds')"
            ).fetchone()[0]
            cons.append({"seconds": time.monotonic() - t0, **r})
        out["consolidation_runs"] = cons
        out["writer_consolidation"] = latency_summary(writer.phase)
        out["consolidation_max_lock_wait_ms"] = max(sampler.waits, default=0.0)
        out["chunks"] = conn.execute("SELECT count(*) FROM memory.chunks").fetchone()[0]
    finally:
        writer.stop.set()
        sampler.stop.set()
        writer.join(30)
        sampler.join(30)
    if writer.error:
        raise writer.error
    log.info("lifetime jobs: %s", {k: v for k, v in out.items() if k != "consolidation_runs"})
    return out


def run_size(args: argparse.Namespace, n: int) -> SizeFigures:
    f = SizeFigures(episodes=n)
    corpus = Corpus(n, args.agents, args.seed)
    make_db(args.db)
    with psycopg.connect(dbname=args.db, autocommit=True) as conn:
        roles = load(conn, corpus, args.agents, f)
        build_own_indexes(args.db, conn, f)
        measured = {"big": 0, "small": 1, "middle": MIDDLE}
        qsets = {}
        for kind, idx in measured.items():
            agent_id = conn.execute(
                "SELECT agent_id FROM memory.agents WHERE db_role = %s", (roles[idx],)
            ).fetchone()[0]
            qv = corpus.queries(idx, args.queries)
            texts = cache_queries(conn, kind, qv)
            a = AgentFigures(episodes=int((corpus.owner == idx).sum()))
            exact = measure_search(conn, roles[idx], agent_id, texts, qv, a)
            f.agents[kind] = a
            qsets[kind] = (agent_id, texts, qv, exact)
            log.info(
                "%s agent (%d episodes): hybrid p95 %.1f ms, vector recall@10 %.3f",
                kind,
                a.episodes,
                pct(a.hybrid_ms, 95),
                statistics.fmean(a.recall_planner),
            )
        f.ingest = ingest(
            args.db,
            conn,
            roles[MIDDLE],
            qsets["middle"][1],
            args.ingest_seconds,
            args.clients,
            args.backlog,
        )
        log.info("ingest: %s", f.ingest)
        build_vector_index(conn, f)
        conn.execute("ANALYZE memory.chunks")
        for kind, (agent_id, _, qv, exact) in qsets.items():
            measure_index_only(conn, agent_id, qv, exact, f.agents[kind])
            a = f.agents[kind]
            log.info(
                "%s agent, HNSW only: recall@10 vector %.3f halfvec %.3f",
                kind,
                statistics.fmean(a.recall_hnsw),
                statistics.fmean(a.recall_halfvec),
            )
        # last: retention removes a tenth of the big agent's episodes
        f.jobs = lifetime_jobs(args.db, conn, roles[0])
    return f


def drop(args: argparse.Namespace) -> None:
    drop_db(args.db)
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        for i in range(args.agents):
            conn.execute(f'DROP ROLE IF EXISTS "{ROLE_PREFIX}{i:03d}"')
        conn.execute(f'DROP ROLE IF EXISTS "{JOBS_WRITER}"')


def summary_of(f: SizeFigures) -> dict[str, Any]:
    agents = {}
    for kind, a in f.agents.items():
        agents[kind] = {
            "episodes": a.episodes,
            "hybrid_p50_ms": pct(a.hybrid_ms, 50),
            "hybrid_p95_ms": pct(a.hybrid_ms, 95),
            "vector_p50_ms": pct(a.vector_ms, 50),
            "vector_p95_ms": pct(a.vector_ms, 95),
            "exact_p50_ms": pct(a.exact_ms, 50),
            "exact_p95_ms": pct(a.exact_ms, 95),
            "recall_planner": statistics.fmean(a.recall_planner),
            "hnsw_p50_ms": pct(a.hnsw_ms, 50),
            "hnsw_p95_ms": pct(a.hnsw_ms, 95),
            "recall_hnsw": statistics.fmean(a.recall_hnsw) if a.recall_hnsw else None,
            "halfvec_p50_ms": pct(a.halfvec_ms, 50),
            "halfvec_p95_ms": pct(a.halfvec_ms, 95),
            "recall_halfvec": statistics.fmean(a.recall_halfvec) if a.recall_halfvec else None,
        }
    d = asdict(f)
    d["agents"] = agents
    return d


def mb(b: int) -> str:
    return f"{b / 1e6:,.0f} MB"


def report(sizes: list[dict[str, Any]], args: argparse.Namespace, started: str) -> str:
    m = common.machine()
    lines = [
        "# Scale benchmark",
        "",
        f"Written by `make bench-scale` on {started}. Machine: {common.machine_line(m)}."
        " The machine is shared: other work running at the same time slows every figure.",
        "",
        f"Data: {args.agents} agents; one holds {BIG_SHARE:.0%} of the episodes (big), one"
        f" holds {SMALL} (small), the others share the rest (middle: one of them)."
        " **The vectors are synthetic**: clustered unit vectors of 384 dimensions"
        f" ({CENTROIDS} centroids, Gaussian spread {SPREAD} per dimension), written by binary"
        " COPY into memory.chunks (the real table; the real partial HNSW index, m 16,"
        " ef_construction 64, built after the load); the texts are synthetic words."
        f" {args.queries} queries per agent: fresh points of the agent's own clusters, their"
        " vectors cached (the query embedding is excluded).",
        "",
        "## Figures and how they grow",
        "",
    ]
    header = "| measure | " + " | ".join(f"{s['episodes']:,} episodes" for s in sizes)
    if len(sizes) == 2:
        header += f" | growth (x{sizes[1]['episodes'] / sizes[0]['episodes']:g} data)"
    lines += [header + " |", "|---" * (len(sizes) + 1 + (len(sizes) == 2)) + "|"]

    def row(name: str, values: list[float], fmt: str, growth: bool = True) -> None:
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        g = ""
        if len(values) == 2:
            g = (
                f" | x{values[1] / values[0]:.2f}"
                if growth and values[0] and values[1] is not None
                else " | -"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + g + " |")

    row("HNSW build (vector), s", [s["hnsw_build_s"] for s in sizes], "{:.0f}")
    row("HNSW index size (vector), MB", [s["hnsw_bytes"] / 1e6 for s in sizes], "{:,.0f}")
    row("HNSW build (halfvec), s", [s["halfvec_build_s"] for s in sizes], "{:.0f}")
    row("HNSW index size (halfvec), MB", [s["halfvec_bytes"] / 1e6 for s in sizes], "{:,.0f}")
    row(
        "own HNSW indexes of the agents over 10,000 chunks (make agent-indexes), count",
        [s.get("own_indexes") for s in sizes],
        "{:.0f}",
        growth=False,
    )
    row("own HNSW indexes, build s (CONCURRENTLY)", [s.get("own_index_s") for s in sizes], "{:.0f}")
    row(
        "own HNSW indexes, size MB",
        [(s.get("own_index_bytes") or 0) / 1e6 for s in sizes],
        "{:,.0f}",
    )
    row("load by COPY, s (triggers off)", [s["load_s"] for s in sizes], "{:.0f}")
    row("remember() tps alone", [s["ingest"]["alone_tps"] for s in sizes], "{:,.0f}")
    row(
        "remember() tps during backfill + searches",
        [s["ingest"]["busy_tps"] for s in sizes],
        "{:,.0f}",
    )
    row(
        "backfill, jobs/s during ingest",
        [s["ingest"]["backfill_jobs_per_s"] for s in sizes],
        "{:.0f}",
    )
    row(
        "hybrid p95 during ingest, ms (middle agent)",
        [s["ingest"]["search_p95_ms"] for s in sizes],
        "{:.1f}",
    )
    jobs = [s.get("jobs") or {} for s in sizes]

    def job(key: str, fn: Any = None) -> list[Any]:
        return [(fn(j) if fn else j.get(key)) if j else None for j in jobs]

    row(
        "retention: episodes removed (a tenth of the big agent's)",
        job("retention_removed"),
        "{:,.0f}",
    )
    row("retention: runs until done", job("", lambda j: len(j["retention_runs_s"])), "{:.0f}")
    row(
        f"retention: longest run, s (every {RETENTION_SCHEDULE_S} s)",
        job("", lambda j: max(j["retention_runs_s"])),
        "{:.1f}",
    )
    row(
        "consolidation: chunks examined per run",
        job("", lambda j: statistics.fmean(r["chunks_examined"] for r in j["consolidation_runs"])),
        "{:,.0f}",
    )
    row(
        f"consolidation: longest run, s (every {CONSOLIDATION_SCHEDULE_S} s)",
        job("", lambda j: max(r["seconds"] for r in j["consolidation_runs"])),
        "{:.1f}",
    )
    row(
        "consolidation: a full pass over every chunk at the schedule, days",
        job(
            "",
            lambda j: (
                j["chunks"]
                / max(1.0, statistics.fmean(r["chunks_examined"] for r in j["consolidation_runs"]))
                * CONSOLIDATION_SCHEDULE_S
                / 86400
            ),
        ),
        "{:.1f}",
    )
    row(
        "another agent's longest lock wait during retention, ms",
        job("retention_max_lock_wait_ms"),
        "{:.1f}",
        growth=False,
    )
    row(
        "another agent's longest lock wait during consolidation, ms",
        job("consolidation_max_lock_wait_ms"),
        "{:.1f}",
        growth=False,
    )
    row(
        "another agent's write p99, ms, before the jobs",
        job("", lambda j: j["writer_baseline"]["p99"]),
        "{:.2f}",
    )
    row(
        "another agent's write p99, ms, during retention",
        job("", lambda j: j["writer_retention"]["p99"]),
        "{:.2f}",
    )
    row(
        "another agent's write p99, ms, during consolidation",
        job("", lambda j: j["writer_consolidation"]["p99"]),
        "{:.2f}",
    )
    for kind in KINDS:
        ag = [s["agents"][kind] for s in sizes]
        counts = ", ".join(f"{a['episodes']:,}" for a in ag)
        label = f"{kind} agent ({counts} episodes)"
        row(f"{label}: hybrid p50 ms", [a["hybrid_p50_ms"] for a in ag], "{:.1f}")
        row(f"{label}: hybrid p95 ms", [a["hybrid_p95_ms"] for a in ag], "{:.1f}")
        row(f"{label}: exact p95 ms", [a["exact_p95_ms"] for a in ag], "{:.1f}")
        row(
            f"{label}: vector search recall@10 (planner's plan)",
            [a["recall_planner"] for a in ag],
            "{:.3f}",
        )
        row(f"{label}: HNSW-only recall@10, vector", [a["recall_hnsw"] for a in ag], "{:.3f}")
        row(f"{label}: HNSW-only recall@10, halfvec", [a["recall_halfvec"] for a in ag], "{:.3f}")
        row(f"{label}: HNSW-only p95 ms, vector", [a["hnsw_p95_ms"] for a in ag], "{:.1f}")
        row(f"{label}: HNSW-only p95 ms, halfvec", [a["halfvec_p95_ms"] for a in ag], "{:.1f}")
    loss = max(
        s["agents"][k]["recall_hnsw"] - s["agents"][k]["recall_halfvec"]
        for s in sizes
        for k in KINDS
    )
    lines += [
        "",
        f"halfvec against vector, HNSW-only recall@10: the largest loss over agents and sizes is"
        f" {loss:+.3f} ({'within' if loss <= 0.005 else 'over'} the 0.005 allowed); the index is"
        f" {sizes[-1]['halfvec_bytes'] / sizes[-1]['hnsw_bytes']:.2f} times the size of the"
        f" vector one at {sizes[-1]['episodes']:,} episodes.",
    ]
    lines += [
        "",
        "How each figure is measured:",
        "- HNSW build: `CREATE INDEX` of the model's partial index after the load"
        " (maintenance_work_mem 3 GB, up to 2 parallel workers), over `embedding::halfvec(384)`"
        " (halfvec_cosine_ops, migration 032); vector: the same index over `embedding::vector(384)`"
        " (vector_cosine_ops, the index before migration 032) beside it, for the comparison"
        " only. The table stores single-precision vectors either way.",
        "- hybrid: `memory.search_episodic_memory(text, k => 10)` as the agent (row-level"
        " security), the search as it is in this branch; vector search: the same with"
        " mode 'vector', no recency or importance weight; exact: `ORDER BY distance LIMIT 10`"
        " over the agent's chunks with index scans off. Before the searches, `make"
        " agent-indexes` gives each agent over 10,000 chunks (the bound of exact ranking) its"
        " own HNSW index, as an operator would (the alert MemoryAgentNeedsOwnVectorIndex asks"
        " for it), and the agents' frequent-word lists are refreshed, as the hourly job"
        " memory-frequent-lexemes does on a memory in use (the search skips those words"
        " without counting them).",
        "- HNSW-only: the same top 10 by SQL with the agent filter, through the shared graph"
        " only: after dropping the b-tree indexes a planner would use for a small agent and"
        " the agents' own indexes (in a transaction rolled back), with"
        " the search's settings (iterative scan relaxed_order, ef_search 100); recall@10"
        " against exact float32 search, for vector and for halfvec.",
        f"- ingest: pgbench, {sizes[0]['ingest']['clients']} clients,"
        f" {sizes[0]['ingest']['seconds']} s, `memory.remember()` as the middle agent; first"
        f" alone, then while a real embed daemon (all-MiniLM-L6-v2 on the CPU) backfills"
        f" {sizes[0]['ingest']['backlog']:,} queued episodes and the rows pgbench adds (HNSW"
        " inserts into the big index) and one client runs hybrid searches.",
        f"- lifetime jobs (last, on the same data): the big agent gets a retention policy of"
        f" max_episodes {RETENTION_KEEP:.0%} of its episodes; `memory.apply_retention()` is called as"
        f" pg_cron calls it (one call, one scheduled run of at most 50 batches of 1,000) until it"
        f" removes nothing; then `memory.run_consolidation(min_age => '0 seconds')`"
        f" {CONSOLIDATION_RUNS} times (the default min_age of 1 hour would skip vectors stored at"
        " load time). Meanwhile an agent with no synthetic rows writes in a loop (remember(),"
        " every tenth call set_working_memory), and its backend's wait events are sampled every"
        " 5 ms (a wait on a lock is one of the jobs holding a lock it needs).",
        "",
        "![scale](plots/scale.png)",
    ]
    return "\n".join(lines)


def plot(sizes: list[dict[str, Any]], path: Path, started: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["episodes"] for s in sizes]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0][0]
    ax.plot(xs, [s["hnsw_build_s"] for s in sizes], "o-", label="vector")
    ax.plot(xs, [s["halfvec_build_s"] for s in sizes], "s--", label="halfvec")
    ax.set_title("HNSW build time (s)")
    ax2 = axes[0][1]
    ax2.plot(xs, [s["hnsw_bytes"] / 1e6 for s in sizes], "o-", label="vector")
    ax2.plot(xs, [s["halfvec_bytes"] / 1e6 for s in sizes], "s--", label="halfvec")
    ax2.set_title("HNSW index size (MB)")
    ax3 = axes[1][0]
    for kind, style in zip(KINDS, ("o-", "s-", "^-"), strict=True):
        ax3.plot(
            xs,
            [s["agents"][kind]["hybrid_p95_ms"] for s in sizes],
            style,
            label=f"hybrid p95, {kind}",
        )
    ax3.axhline(20, color="gray", ls=":", label="target 20 ms")
    ax3.set_title("Hybrid search p95 (ms)")
    ax4 = axes[1][1]
    for kind, style in zip(KINDS, ("o-", "s-", "^-"), strict=True):
        ax4.plot(
            xs, [s["agents"][kind]["recall_hnsw"] for s in sizes], style, label=f"vector, {kind}"
        )
        ax4.plot(
            xs,
            [s["agents"][kind]["recall_halfvec"] for s in sizes],
            style.replace("-", "--"),
            label=f"halfvec, {kind}",
        )
    ax4.axhline(0.95, color="gray", ls=":", label="target 0.95")
    ax4.set_title("HNSW-only recall@10 against exact")
    for a in (ax, ax2, ax3, ax4):
        a.set_xscale("log")
        a.set_xlabel("episodes")
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    fig.suptitle("Scale: 200 agents, synthetic clustered 384-d vectors")
    fig.text(0.01, 0.005, f"run {started}; {common.machine_line(common.machine())}", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(
    sizes: list[dict[str, Any]], args: argparse.Namespace, started: str, wall: float
) -> None:
    """The report, the data file and the plot; sizes measured by an earlier run
    (SCALE_SIZES=...) and not by this one stay in them."""
    old = json.loads(args.data.read_text()) if args.data.exists() else None
    if old:
        mine = {s["episodes"] for s in sizes}
        sizes += [s for s in old["summary"]["sizes"] if s["episodes"] not in mine]
        sizes.sort(key=lambda s: s["episodes"])
    text = report(sizes, args, started)
    text += f"\n\nWall time of the run: {wall:.0f} s.\n"
    args.report.write_text(text)
    common.save("scale", started, {"sizes": sizes}, {}, path=args.data)
    plot(sizes, args.plot, started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-scale", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--ingest-seconds", type=int, default=15)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--db", default="agent_memory_scale")
    parser.add_argument("--report", type=Path, default=common.REPORTS / "bench-scale.md")
    parser.add_argument("--data", type=Path, default=common.DATA / "scale.json")
    parser.add_argument("--plot", type=Path, default=common.REPORTS / "plots" / "scale.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    started = common.now_utc()
    sizes: list[dict[str, Any]] = []
    t_all = time.monotonic()
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            t0 = time.monotonic()
            sizes.append(summary_of(run_size(args, n)))
            sizes[-1]["wall_s"] = time.monotonic() - t0
            log.info("%d episodes measured in %.0f s", n, sizes[-1]["wall_s"])
            # after each size, so that a run stopped later keeps what it measured
            write_outputs(list(sizes), args, started, time.monotonic() - t_all)
    finally:
        with contextlib.suppress(Exception):
            drop(args)
    print(args.report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
