"""Search at 100,000 episodes (part of ``make bench``).

Builds a scratch database with the project's migrations and functions, 20 agents and
100,000 episodes, one agent holding 5% of them, vacuumed after the load (as autovacuum
would have done to a memory in use). Embedding 100,000 texts takes too long
on 2 cores, so the vectors are SYNTHETIC (clustered unit vectors, 384 dimensions) and
written directly as chunk rows; the texts are synthetic too (words drawn from a fixed
vocabulary with a Zipf-like law), each agent's episodes in sessions of 20, one second
apart (so that hybrid search has session neighbours to pull in). Measured in the same run:

- filtered recall: the small agent's vector top-10 through memory.search_episodic_memory
  (HNSW, row-level security, pgvector 0.8 iterative scan) against exact search (the same
  ORDER BY distance with index scans disabled);
- latency of hybrid search inside the database (query vector from the query cache, so
  the query embedding is excluded), of exact vector search as the baseline, and of
  hybrid search with the query embedded by the running daemon (included).

Every per-call latency (ms) goes to reports/data/search.json for the plots.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from bench import common

log = logging.getLogger("bench.search")
ROOT = Path(__file__).resolve().parents[2]
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
DIMS = 384


@dataclass
class Figures:
    recall_at_10: float
    hnsw_recall_at_10: float
    hnsw_ms: list[float]
    hybrid_ms: list[float]
    vector_ms: list[float]
    exact_ms: list[float]
    hybrid_embed_ms: list[float]
    load_s: float
    index_s: float


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def make_db(name: str) -> None:
    env = dict(os.environ, PGDATABASE="postgres")
    subprocess.run(
        ["psql", "-X", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        env=env,
        check=True,
    )
    subprocess.run(["psql", "-X", "-q", "-c", f'CREATE DATABASE "{name}"'], env=env, check=True)
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "migrate.sh"), str(ROOT / "sql")],
        env=dict(os.environ, PGDATABASE=name),
        check=True,
        capture_output=True,
    )


def vector_top10(conn: psycopg.Connection, q: str) -> list:
    """The ids of a vector search's first ten episodes, by similarity alone."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT episode_id FROM memory.search_episodic_memory(%s, k => 10, mode => 'vector',"
            " recency_weight => 0, importance_weight => 0)",
            (q,),
        ).fetchall()
    ]


def drop_db(name: str) -> None:
    """Drops a scratch database with whoever is connected to it (not checked: it runs
    in a finally, after the run's own outcome)."""
    subprocess.run(
        ["psql", "-X", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        env=dict(os.environ, PGDATABASE="postgres"),
    )


def make_agents(conn: psycopg.Connection, roles: list[str]) -> list:
    """A NOLOGIN role (an old one of the name dropped first) and an agent for each name;
    returns the agents' ids."""
    agent_ids = []
    for role in roles:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        agent_ids.append(
            conn.execute(
                "SELECT memory.create_agent(%s, %s)", (role.replace("_", "-"), role)
            ).fetchone()[0]
        )
    return agent_ids


def vector_text(rows: np.ndarray) -> list[str]:
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt="%.5f", delimiter=",")
    return ["[" + line + "]" for line in buf.getvalue().splitlines()]


def load(conn: psycopg.Connection, n: int, agents: int, small_share: float, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    # Zipf-distributed words of a 30,000-word vocabulary without its 100 most frequent
    # ranks (the stop words a text configuration removes): the commonest indexed word
    # is in about 2% of the episodes, as content words are in real text.
    vocab = [f"w{i:05d}" for i in range(30_000)]
    zipf = 1.0 / np.arange(101, len(vocab) + 101)
    zipf /= zipf.sum()
    centroids = rng.normal(size=(400, DIMS)).astype(np.float32)
    roles = [f"bench_agent_{i:02d}" for i in range(agents)]
    agent_ids = make_agents(conn, roles)
    n_small = int(n * small_share)
    owner = np.concatenate(
        [np.zeros(n_small, dtype=int), rng.integers(1, agents, size=n - n_small)]
    )
    # each agent's episodes in sessions of 20 (a conversation), one second apart: the
    # neighbour expansion of hybrid search has session neighbours to look up
    nth = np.zeros(n, dtype=int)
    seen = np.zeros(agents, dtype=int)
    for i, o in enumerate(owner):
        nth[i] = seen[o]
        seen[o] += 1
    model_id = conn.execute(
        "SELECT model_id FROM memory.embedding_models WHERE is_serving"
    ).fetchone()[0]
    index_def = conn.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index JOIN pg_class c ON c.oid = indexrelid"
        " WHERE c.relname = %s",
        (f"chunks_embedding_model_{model_id}_idx",),
    ).fetchone()[0]
    conn.execute(f"DROP INDEX memory.chunks_embedding_model_{model_id}_idx")
    # No embedding jobs for synthetic rows: triggers off for this session only.
    conn.execute("SET session_replication_role = replica")
    t0 = time.monotonic()
    batch = 10_000
    for start in range(0, n, batch):
        m = min(batch, n - start)
        ids = [uuid.uuid4() for _ in range(m)]
        cl = rng.integers(0, len(centroids), size=m)
        vecs = centroids[cl] + rng.normal(scale=0.6, size=(m, DIMS)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        words = rng.choice(len(vocab), size=(m, 24), p=zipf)
        texts = [
            " ".join(vocab[w] for w in row) + f" topic{c}" for row, c in zip(words, cl, strict=True)
        ]
        vtext = vector_text(vecs)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY memory.episodes (episode_id, agent_id, content, importance, occurred_at,"
                " session_id) FROM STDIN"
            ) as cp:
                for i in range(m):
                    cp.write_row(
                        (
                            ids[i],
                            agent_ids[owner[start + i]],
                            texts[i],
                            float(rng.random()),
                            BASE_TIME + timedelta(seconds=int(nth[start + i])),
                            f"session-{nth[start + i] // 20}",
                        )
                    )
            with cur.copy(
                "COPY memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end,"
                " content_sha256, embedding) FROM STDIN"
            ) as cp:
                for i in range(m):
                    cp.write_row(
                        (
                            agent_ids[owner[start + i]],
                            ids[i],
                            model_id,
                            0,
                            0,
                            len(texts[i]),
                            b"\x00" * 32,
                            vtext[i],
                        )
                    )
        log.info("loaded %d/%d", start + m, n)
    conn.execute("RESET session_replication_role")
    load_s = time.monotonic() - t0
    t0 = time.monotonic()
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(index_def)
    index_s = time.monotonic() - t0
    # A bulk load leaves every page without hint bits and the visibility map empty: the
    # first autovacuum then runs during the measurement (it did, about 40 s after the
    # load) and every read sets hint bits. A memory in use has been vacuumed: measure
    # that state, the baseline in the same one.
    conn.execute("VACUUM (ANALYZE) memory.episodes")
    conn.execute("VACUUM (ANALYZE) memory.chunks")
    log.info("loaded in %.0f s, HNSW index built in %.0f s", load_s, index_s)
    conn.info_load = (load_s, index_s)  # type: ignore[attr-defined]
    return roles


def measure(
    conn: psycopg.Connection, role: str, queries: int, seed: int, daemon_socket: str | None
) -> Figures:
    rng = np.random.default_rng(seed + 1)
    model_id = conn.execute(
        "SELECT model_id FROM memory.embedding_models WHERE is_serving"
    ).fetchone()[0]
    agent_id = conn.execute(
        "SELECT agent_id FROM memory.agents WHERE db_role = %s", (role,)
    ).fetchone()[0]
    # Query vectors near existing vectors of the small agent (as real questions are).
    sample = conn.execute(
        "SELECT embedding::text FROM memory.chunks WHERE agent_id = %s ORDER BY random() LIMIT %s",
        (agent_id, queries),
    ).fetchall()
    qvecs = []
    for (txt,) in sample:
        v = np.array([float(x) for x in txt.strip("[]").split(",")], dtype=np.float32)
        v = v + rng.normal(scale=0.04, size=DIMS).astype(np.float32)
        qvecs.append(v / np.linalg.norm(v))
    vtexts = vector_text(np.array(qvecs))
    words = [f"w{i:05d}" for i in rng.integers(0, 3000, size=(queries, 3)).ravel()]
    qtexts = [f"bench query {i}: " + " ".join(words[3 * i : 3 * i + 3]) for i in range(queries)]
    for q, v in zip(qtexts, vtexts, strict=True):
        conn.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
            " VALUES (%s, memory._sha256(%s), %s::vector) ON CONFLICT DO NOTHING",
            (model_id, q, v),
        )
    recalls, hybrid_ms, vector_ms, exact_ms, embed_ms = [], [], [], [], []
    exact_lists: list[list[str]] = []
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        # warm-up: caches, plans
        for q in qtexts[:10]:
            conn.execute("SELECT count(*) FROM memory.search_episodic_memory(%s)", (q,)).fetchone()
        for q, v in zip(qtexts, vtexts, strict=True):
            t0 = time.perf_counter()
            ann = vector_top10(conn, q)
            vector_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            conn.execute(
                "SELECT count(*) FROM memory.search_episodic_memory(%s, k => 10)", (q,)
            ).fetchone()
            hybrid_ms.append(1000 * (time.perf_counter() - t0))
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                t0 = time.perf_counter()
                exact = [
                    r[0]
                    for r in conn.execute(
                        # the agent's own chunks by its b-tree, then the distance of
                        # each (row-level security also applies, as to any query of
                        # the agent; without the explicit filter a read policy that is
                        # not a plain agent_id test can turn it into a scan of all)
                        f"SELECT episode_id FROM memory.chunks WHERE model_id = {model_id}"
                        f" AND agent_id = %s"
                        f" ORDER BY embedding::vector({DIMS}) <=> %s::vector({DIMS}) LIMIT 10",
                        (agent_id, v),
                    ).fetchall()
                ]
                exact_ms.append(1000 * (time.perf_counter() - t0))
            recalls.append(len(set(ann) & set(exact)) / max(1, len(exact)))
            exact_lists.append(exact)
        # The same searches with the HNSW index as the only way in: the b-tree indexes the
        # planner may prefer for a small agent are dropped inside a transaction that is
        # rolled back.
        hnsw_recalls, hnsw_ms = [], []
        conn.execute("RESET SESSION AUTHORIZATION")
        with conn.transaction(force_rollback=True):
            conn.execute("DROP INDEX memory.chunks_agent_model_idx")
            conn.execute("DROP INDEX memory.chunks_episode_idx")
            conn.execute(f'SET LOCAL SESSION AUTHORIZATION "{role}"')
            for q, exact in zip(qtexts, exact_lists, strict=True):
                t0 = time.perf_counter()
                ann = vector_top10(conn, q)
                hnsw_ms.append(1000 * (time.perf_counter() - t0))
                hnsw_recalls.append(len(set(ann) & set(exact)) / max(1, len(exact)))
        conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        if daemon_socket:
            # embed_query asks the daemons registered in this database; the running
            # daemon serves the main database, so register its socket here as well.
            conn.execute("RESET SESSION AUTHORIZATION")
            conn.execute(
                "INSERT INTO memory.embedding_workers (worker_name, status, query_socket, models, last_heartbeat)"
                " VALUES ('bench-proxy', 'running', %s, ARRAY[(SELECT name FROM memory.embedding_models"
                " WHERE is_serving)], now() + interval '1 hour')"
                " ON CONFLICT (worker_name) DO UPDATE SET last_heartbeat = excluded.last_heartbeat",
                (daemon_socket,),
            )
            conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
            for i in range(min(queries, 100)):
                q = f"what did we decide about topic {i} and w{i:05d}?"
                t0 = time.perf_counter()
                conn.execute(
                    "SELECT count(*) FROM memory.search_episodic_memory(%s, k => 10)", (q,)
                ).fetchone()
                embed_ms.append(1000 * (time.perf_counter() - t0))
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")
    load_s, index_s = getattr(conn, "info_load", (float("nan"), float("nan")))
    return Figures(
        statistics.fmean(recalls),
        statistics.fmean(hnsw_recalls),
        hnsw_ms,
        hybrid_ms,
        vector_ms,
        exact_ms,
        embed_ms,
        load_s,
        index_s,
    )


SERIES = {
    "hybrid, query embedding excluded (cached)": "hybrid_ms",
    "hybrid, query embedded by the daemon (included)": "hybrid_embed_ms",
    "vector, the planner's choice": "vector_ms",
    "vector, HNSW + RLS + iterative scan forced": "hnsw_ms",
    "exact ORDER BY distance, sequential scan (baseline)": "exact_ms",
}


def save_data(f: Figures, n: int, agents: int, share: float, started: str, path: Path) -> None:
    """The figures of the report and every per-call latency, for bench.report and bench.plots."""
    series = {name: getattr(f, attr) for name, attr in SERIES.items()}
    summary = {
        "episodes": n,
        "agents": agents,
        "share": share,
        "queries": len(f.hybrid_ms),
        "recall_at_10": f.recall_at_10,
        "hnsw_recall_at_10": f.hnsw_recall_at_10,
        "recall_target": 0.95,
        "load_s": f.load_s,
        "index_s": f.index_s,
        "latency_ms": {
            name: {"p50": pct(v, 50), "p95": pct(v, 95), "n": len(v)}
            for name, v in series.items()
            if v
        },
    }
    common.save("search", started, summary, series, path=path)


def report(f: Figures, n: int, agents: int, share: float) -> str:
    lines = [
        f"## Search at {n:,} episodes ({agents} agents, the measured one holds {share:.0%})",
        "",
        "Vectors and texts are synthetic (clustered unit vectors, 384 dimensions, written directly);"
        " embedding 100,000 texts on 2 CPU cores would take too long. The tables are vacuumed"
        " after the bulk load (as autovacuum does to a memory in use) before anything is measured.",
        "",
        "| measure | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| hybrid search in SQL, query embedding excluded (cached) | {pct(f.hybrid_ms, 50):.2f} | {pct(f.hybrid_ms, 95):.2f} |",
        f"| vector search in SQL, the planner's choice | {pct(f.vector_ms, 50):.2f} | {pct(f.vector_ms, 95):.2f} |",
        f"| vector search in SQL, HNSW + RLS + iterative scan forced | {pct(f.hnsw_ms, 50):.2f} | {pct(f.hnsw_ms, 95):.2f} |",
        f"| exact vector search over the agent's chunks (its b-tree, then a sort), baseline | {pct(f.exact_ms, 50):.2f} | {pct(f.exact_ms, 95):.2f} |",
    ]
    if f.hybrid_embed_ms:
        lines.append(
            f"| hybrid search, query embedded by the daemon (included) | {pct(f.hybrid_embed_ms, 50):.2f} |"
            f" {pct(f.hybrid_embed_ms, 95):.2f} |"
        )
    lines += [
        "",
        f"- filtered recall@10 against exact search: **{f.hnsw_recall_at_10:.3f}** through the HNSW index"
        f" (iterative scan, forced), {f.recall_at_10:.3f} with the planner's choice of plan (target >= 0.95)",
        f"- hybrid p95 / exact p95: {pct(f.hybrid_ms, 95) / pct(f.exact_ms, 95):.3f};"
        f" vector p95 / exact p95: {pct(f.vector_ms, 95) / pct(f.exact_ms, 95):.3f}",
        f"- load {f.load_s:.0f} s, HNSW build {f.index_s:.0f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-search", description=__doc__)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", default="agent_memory_bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--daemon-socket", default=str(ROOT / "var" / "run" / "embed.sock"))
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--data",
        type=Path,
        default=common.DATA / "search.json",
        help="where the figures and per-call latencies go (JSON)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")

    started = common.now_utc()
    make_db(args.db)
    try:
        with psycopg.connect(dbname=args.db, autocommit=True) as conn:
            roles = load(conn, args.episodes, args.agents, args.share, args.seed)
            sock = args.daemon_socket if Path(args.daemon_socket).exists() else None
            figures = measure(conn, roles[0], args.queries, args.seed, sock)
    finally:
        if not args.keep:
            drop_db(args.db)
            with psycopg.connect(dbname="postgres", autocommit=True) as conn:
                for i in range(args.agents):
                    conn.execute(f'DROP ROLE IF EXISTS "bench_agent_{i:02d}"')
    text = report(figures, args.episodes, args.agents, args.share)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    save_data(figures, args.episodes, args.agents, args.share, started, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
