"""Load: pgbench on remember() and search at 1, 4 and 16 clients (part of ``make bench``).

In a scratch database built by the project's migrations, one agent with 20,000 episodes
(synthetic text and vectors, as in bench_search), then for each client count:

- remember():          SELECT memory.remember(...) as the agent (triggers, RLS, queue)
- bare INSERT:         the same row into a plain table without triggers or policies
- hybrid search:       memory.search_episodic_memory(text) with cached query vectors
- bare ORDER BY:       SELECT ... ORDER BY embedding <=> q LIMIT 10 on a plain table with
                       an HNSW index (the bare-SQL baseline)

Every run starts as a memory in use does, after autovacuum and the hourly job
memory-frequent-lexemes: fresh planner statistics (ANALYZE) and fresh lists of the agent's
frequent words (memory.refresh_frequent_lexemes). The remember() runs add thousands of rows
whose words ("load") are also in the search queries; a word in 1,000 or more of the
agent's rows weighs nothing, and the search skips the listed ones without counting them,
so without the refresh a search run's cost depended on when the job last ran (counting
an unlisted common word reads up to 1,000 rows).

Throughput (transactions per second) and latency percentiles come from pgbench's
per-transaction logs. The ratios against the bare baselines are measured in the same run.
The figures and the per-transaction latencies (ms; at most LOAD_POINTS evenly spaced
quantiles per run) go to reports/data/load.json for the plots.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
from testing.stack import DaemonProcess, wait_for

from bench import common
from bench.bench_search import DIMS, drop_db, make_db, pct, vector_text

log = logging.getLogger("bench.load")
ROLE = "bench_pgbench"
LOAD_POINTS = 1000  # per run in reports/data/load.json: enough for a distribution plot
BARE = {"remember": "bare INSERT", "hybrid search": "bare ORDER BY"}

SCRIPTS = {
    "remember": (
        "\\set n random(1, 1000000000)\n"
        "SELECT memory.remember('load test episode ' || :n || ' about w' || (:n % 3000)"
        " || ' and topic ' || (:n % 400), importance => 0.5);\n"
    ),
    "bare INSERT": (
        "\\set n random(1, 1000000000)\n"
        "INSERT INTO bench.plain_episodes (content, importance) VALUES"
        " ('load test episode ' || :n || ' about w' || (:n % 3000) || ' and topic ' || (:n % 400), 0.5);\n"
    ),
    "hybrid search": (
        "\\set q random(0, 199)\n"
        "SELECT count(*) FROM memory.search_episodic_memory('load query ' || :q, k => 10);\n"
    ),
    "bare ORDER BY": (
        "\\set q random(0, 199)\n"
        "SELECT count(*) FROM (SELECT id FROM bench.plain_vectors"
        " ORDER BY embedding <=> (SELECT v FROM bench.queries WHERE i = :q) LIMIT 10) AS x;\n"
    ),
}


def load_synthetic_agent(
    conn: psycopg.Connection, agent: object, model_id: int, episodes: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """Writes `episodes` synthetic episodes of an agent with one chunk each (clustered unit
    vectors around 400 centroids, written directly, no embedding jobs); returns the
    centroids and the vectors as text."""
    centroids = rng.normal(size=(400, DIMS)).astype(np.float32)
    cl = rng.integers(0, 400, size=episodes)
    vecs = centroids[cl] + rng.normal(scale=0.6, size=(episodes, DIMS)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vt = vector_text(vecs)
    ids = [
        str(x[0])
        for x in conn.execute("SELECT gen_random_uuid() FROM generate_series(1, %s)", (episodes,))
    ]
    conn.execute("SET session_replication_role = replica")  # no embedding jobs for synthetic rows
    with conn.cursor() as cur:
        # in sessions of 20 episodes, so that hybrid search has session neighbours
        with cur.copy(
            "COPY memory.episodes (episode_id, agent_id, content, session_id) FROM STDIN"
        ) as cp:
            for i in range(episodes):
                cp.write_row(
                    (
                        ids[i],
                        agent,
                        f"stored episode {i} about w{i % 3000} and topic {cl[i]}",
                        f"session-{i // 20}",
                    )
                )
        with cur.copy(
            "COPY memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end,"
            " content_sha256, embedding) FROM STDIN"
        ) as cp:
            for i in range(episodes):
                cp.write_row((agent, ids[i], model_id, 0, 0, 10, b"\x00" * 32, vt[i]))
    conn.execute("RESET session_replication_role")
    return centroids, vt


def prepare(conn: psycopg.Connection, episodes: int, seed: int, password: str) -> None:
    rng = np.random.default_rng(seed)
    conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')
    conn.execute(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{password}'")
    conn.execute("SELECT memory.create_agent('bench-pgbench', %s)", (ROLE,))
    # the load runs write far more than the default quotas allow (issue 15): an
    # operator's override for this agent, and room for 16 clients and pgbench's own
    conn.execute(
        "SELECT memory.set_agent_limits('bench-pgbench', max_episodes_per_minute => 2000000000, "
        "max_queued_jobs => 2000000000, max_stored_bytes => 1000000000000, connection_limit => 64)"
    )
    agent = conn.execute(
        "SELECT agent_id FROM memory.agents WHERE db_role = %s", (ROLE,)
    ).fetchone()[0]
    model_id = conn.execute(
        "SELECT model_id FROM memory.embedding_models WHERE is_serving"
    ).fetchone()[0]
    conn.execute("CREATE SCHEMA bench")
    conn.execute(
        "CREATE TABLE bench.plain_episodes (id bigserial PRIMARY KEY, content text, importance real)"
    )
    conn.execute(
        f"CREATE TABLE bench.plain_vectors (id bigserial PRIMARY KEY, embedding vector({DIMS}))"
    )
    conn.execute(f"CREATE TABLE bench.queries (i int PRIMARY KEY, v vector({DIMS}))")
    conn.execute(f'GRANT USAGE ON SCHEMA bench TO "{ROLE}"')
    conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA bench TO "{ROLE}"')
    conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA bench TO "{ROLE}"')
    centroids, vt = load_synthetic_agent(conn, agent, model_id, episodes, rng)
    with conn.cursor() as cur, cur.copy("COPY bench.plain_vectors (embedding) FROM STDIN") as cp:
        for v in vt:
            cp.write_row((v,))
    conn.execute("CREATE INDEX ON bench.plain_vectors USING hnsw (embedding vector_cosine_ops)")
    q = centroids[rng.integers(0, 400, size=200)] + rng.normal(scale=0.6, size=(200, DIMS)).astype(
        np.float32
    )
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    qt = vector_text(q)
    for i, v in enumerate(qt):
        conn.execute("INSERT INTO bench.queries VALUES (%s, %s::vector)", (i, v))
        conn.execute(
            "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
            " VALUES (%s, memory._sha256(%s), %s::vector)",
            (model_id, f"load query {i}", v),
        )
    # vacuumed after the bulk load, as autovacuum does to a memory in use (hint bits,
    # visibility map); the baselines' tables alike
    conn.execute("VACUUM (ANALYZE)")


def run_pgbench(
    db: str,
    script: str,
    clients: int,
    seconds: int,
    password: str,
    role: str = ROLE,
    server: tuple[str, int] | None = None,
) -> tuple[dict[str, float], list[float]]:
    """(tps and latency percentiles in ms, every transaction's latency in ms); server:
    (host, port) instead of the libpq environment's."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(script)
        env = dict(os.environ, PGDATABASE=db, PGUSER=role, PGPASSWORD=password)
        if server:
            env.update(PGHOST=server[0], PGPORT=str(server[1]))
        env.pop("PGPASSFILE", None)
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(seconds),
                "-f",
                str(path),
                "-l",
                "--log-prefix",
                f"{tmp}/log",
            ],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
        lat: list[float] = []
        for f in Path(tmp).glob("log*"):
            for line in f.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]) / 1000.0)  # microseconds -> ms
        tps = next(
            float(ln.split("=")[1].split()[0])
            for ln in out.stdout.splitlines()
            if ln.startswith("tps")
        )
    return {
        "tps": tps,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "n": len(lat),
    }, lat


def probe(conn: psycopg.Connection, watch: psycopg.Connection, text: str) -> float:
    """Seconds from enqueue to vectors stored (database clock) of one important episode."""
    eid = conn.execute("SELECT memory.remember(%s, importance => 1.0)", (text,)).fetchone()[0]
    row = wait_for(
        "a probe to be embedded",
        lambda: watch.execute(
            "SELECT extract(epoch FROM done_at - enqueued_at) FROM memory.embedding_jobs"
            " WHERE episode_id = %s AND state = 'done'",
            (eid,),
        ).fetchone(),
        timeout=120,
        interval=0.002,
    )
    return float(row[0])


def freshness(
    db: str, clients: int, seconds: int, password: str, probes: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """A real daemon on this database. Idle: probes 0.3 s apart on a quiet queue. Under
    load: remember() at `clients` pgbench clients (importance 0.5) while a probe of
    importance 1.0 (so that it does not queue behind the backlog the writes build) is
    written every 0.25 s; each probe's freshness is enqueue to vectors stored."""
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        # the earlier remember() runs left thousands of jobs: not this measure's backlog
        conn.execute("DELETE FROM memory.embedding_jobs WHERE state <> 'done'")
    d = DaemonProcess(db, "bench-load-fresh").start()
    idle: list[float] = []
    busy: list[float] = []
    try:
        d.wait_ready()
        d.wait_idle()
        with (
            psycopg.connect(dbname=db, autocommit=True) as conn,
            psycopg.connect(dbname=db, autocommit=True) as watch,
        ):
            conn.execute(f'SET SESSION AUTHORIZATION "{ROLE}"')
            for i in range(probes):
                time.sleep(0.3)  # back to sleep on LISTEN
                idle.append(probe(conn, watch, f"idle probe {i} about the lake house"))
            stop = threading.Event()

            def prober() -> None:
                i = 0
                while not stop.is_set():
                    busy.append(probe(conn, watch, f"busy probe {i} about the lake house"))
                    i += 1
                    stop.wait(0.25)

            th = threading.Thread(target=prober, daemon=True)
            th.start()
            r, _ = run_pgbench(db, SCRIPTS["remember"], clients, seconds, password)
            stop.set()
            th.join()
            backlog = watch.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE state <> 'done'"
            ).fetchone()[0]
    finally:
        d.stop(timeout=30)
    figures = {
        "idle_p50_ms": 1000 * pct(idle, 50),
        "idle_p95_ms": 1000 * pct(idle, 95),
        "busy_p50_ms": 1000 * pct(busy, 50),
        "busy_p95_ms": 1000 * pct(busy, 95),
        "busy_probes": len(busy),
        "busy_clients": clients,
        "busy_remember_tps": r["tps"],
        "backlog_after": backlog,
    }
    return figures, {
        "freshness idle (ms)": [1000 * x for x in idle],
        "freshness under load (ms)": [1000 * x for x in busy],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-load", description=__doc__)
    parser.add_argument("--db", default="agent_memory_load")
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--data",
        type=Path,
        default=common.DATA / "load.json",
        help="where the figures and per-transaction latencies go (JSON)",
    )
    parser.add_argument("--probes", type=int, default=40, help="idle freshness probes")
    parser.add_argument("--no-freshness", action="store_true", help="skip the daemon's freshness")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and role")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    password = secrets.token_urlsafe(24)  # lives only in this process and the scratch role
    started = common.now_utc()
    make_db(args.db)
    rows = []
    samples: dict[str, list[float]] = {}
    try:
        with psycopg.connect(dbname=args.db, autocommit=True) as conn:
            prepare(conn, args.episodes, 11, password)
        for clients in [int(c) for c in args.clients.split(",")]:
            for name, script in SCRIPTS.items():
                with psycopg.connect(dbname=args.db, autocommit=True) as conn:
                    conn.execute("ANALYZE")
                    conn.execute("SELECT memory.refresh_frequent_lexemes()")
                r, lat = run_pgbench(args.db, script, clients, args.seconds, password)
                samples[f"{name}, {clients} clients"] = lat
                log.info("%s, %d clients: %.0f tps, p95 %.2f ms", name, clients, r["tps"], r["p95"])
                rows.append((name, clients, r))
        fresh: dict[str, float] = {}
        if not args.no_freshness:
            top = max(int(c) for c in args.clients.split(","))
            fresh, fresh_samples = freshness(args.db, top, args.seconds, password, args.probes)
            samples.update(fresh_samples)
            log.info("freshness: %s", fresh)
    finally:
        if not args.keep:
            drop_db(args.db)
            env = dict(os.environ, PGDATABASE="postgres")
            subprocess.run(["psql", "-X", "-q", "-c", f'DROP ROLE IF EXISTS "{ROLE}"'], env=env)
    by = {(n, c): r for n, c, r in rows}
    lines = [
        f"## Load (pgbench, {args.seconds} s per run, one agent with {args.episodes:,} episodes)",
        "",
        "The remember() runs add rows as they go; before every run the planner statistics"
        " (ANALYZE) and the agent's frequent words (memory.refresh_frequent_lexemes(), the"
        " hourly job's work) are refreshed, as on a memory in use. Ratios: tps of the"
        " workload / tps of its bare baseline at the same client count.",
        "",
        "| workload | clients | tps | p50 ms | p95 ms | p99 ms | tps vs bare |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, clients, r in rows:
        base = by.get((BARE.get(name, ""), clients))
        ratio = f"{r['tps'] / base['tps']:.3f}" if base else "baseline"
        lines.append(
            f"| {name} | {clients} | {r['tps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {ratio} |"
        )
    if fresh:
        lines += [
            "",
            f"Freshness (a real embed daemon on this database; enqueue to vectors stored, database"
            f" clock): idle, {args.probes} single remember() calls 0.3 s apart: p50"
            f" {fresh['idle_p50_ms']:.0f} ms, p95 **{fresh['idle_p95_ms']:.0f} ms** (target < 100 ms);"
            f" under {fresh['busy_clients']} pgbench clients of remember()"
            f" ({fresh['busy_remember_tps']:.0f} tps beside the daemon), a probe of importance 1.0"
            f" every 0.25 s: p50 {fresh['busy_p50_ms']:.0f} ms, p95 **{fresh['busy_p95_ms']:.0f} ms**"
            f" ({fresh['busy_probes']} probes; target < 1,000 ms). The writes outpace the"
            f" embedder on this machine: {fresh['backlog_after']:,} jobs were still queued at the"
            " end, so the probes carry a higher importance than the load and are claimed first.",
        ]
    text = "\n".join(lines)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    summary = {
        "episodes": args.episodes,
        "seconds": args.seconds,
        "baselines": BARE,
        "runs": [{"workload": n, "clients": c, **r} for n, c, r in rows],
        "freshness": fresh,
    }
    common.save("load", started, summary, samples, limit=LOAD_POINTS, path=args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
