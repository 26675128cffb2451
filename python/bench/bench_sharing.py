"""What sharing between agents costs a search (issue 20, item 4; not in ``make bench``'s
default parts: ``BENCH_PARTS=sharing bash scripts/bench.sh``).

The scratch database of bench_search (100,000 synthetic episodes, 20 agents, the
measured one holding 5%) is loaded once, with a grantee: a copy of the measured agent's
memory for another agent, to which a third agent (as large) grants a tag that a fifth
of its episodes hold. Then the hybrid search (k 10, query vector cached) is timed in
blocks, alternately:

- with the functions of a baseline commit (``--baseline``, default main's ``1776ac7``,
  before sharing): the measured agent, which holds no grant;
- with this tree's functions: the measured agent, and the grantee without and with
  ``include_shared``, each query through the three in a random order.

The sharing policies apply only to grantees (memory_share_grantee): the agent without
a grant should be equal to the baseline within noise. Every per-call latency goes to
reports/data/sharing.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg

from bench import bench_search, common

log = logging.getLogger("bench.sharing")
ROOT = Path(__file__).resolve().parents[2]
SEARCH_ARGS = (
    "text, integer, text, text[], text, text, timestamptz, timestamptz, real, "
    "double precision, double precision, interval, double precision, integer, double precision, integer"
)


def apply_functions(db: str, sql_dir: Path, drop_signature: str) -> None:
    """The function files of sql_dir, in one transaction, after dropping the search
    functions of the other version (a 16- and a 17-argument search would be ambiguous)."""
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-o", "/dev/null"]
    args += ["-c", f"DROP FUNCTION IF EXISTS memory.search_episodic_memory({drop_signature})"]
    args += ["-c", f"DROP FUNCTION IF EXISTS memory._search_episodes({drop_signature})"]
    for f in sorted((sql_dir / "functions").glob("*.sql")):
        args += ["-f", str(f), "-c", "RESET ROLE"]
    subprocess.run(args, env=dict(os.environ, PGDATABASE=db), check=True, capture_output=True)


def sessions(db: str, roles: dict[str, str]) -> dict[str, psycopg.Connection]:
    out = {}
    for name, role in roles.items():
        conn = psycopg.connect(dbname=db, autocommit=True)
        conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        out[name] = conn
    return out


def interleaved(
    db: str, calls: dict[str, tuple[str, str]], queries: list[str], rng: random.Random
) -> dict[str, list[float]]:
    """New sessions, one per call (name: (role, SQL)); 5 warm-up queries, then each query
    through every call in a random order, so that the machine's load falls on all alike."""
    conns = sessions(db, {name: role for name, (role, _) in calls.items()})
    out: dict[str, list[float]] = {name: [] for name in calls}
    try:
        for i, q in enumerate(queries):
            order = list(calls.items())
            rng.shuffle(order)
            for name, (_, stmt) in order:
                t0 = time.perf_counter()
                conns[name].execute(stmt, (q,)).fetchall()
                if i >= 5:
                    out[name].append(1000 * (time.perf_counter() - t0))
    finally:
        for conn in conns.values():
            conn.close()
    return out


# A copy of an agent's episodes and chunks for another agent (same texts, vectors and
# dates, new ids): the grantee and the agent without a grant search identical memories.
COPY_AGENT = """
CREATE TEMP TABLE copied ON COMMIT DROP AS
    SELECT episode_id AS old, gen_random_uuid() AS new FROM memory.episodes WHERE agent_id = %(src)s;
INSERT INTO memory.episodes (episode_id, agent_id, content, importance, occurred_at)
    SELECT m.new, %(dst)s, e.content, e.importance, e.occurred_at
    FROM memory.episodes AS e JOIN copied AS m ON m.old = e.episode_id;
INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
    SELECT %(dst)s, m.new, c.model_id, c.chunk_index, c.char_start, c.char_end, c.content_sha256, c.embedding
    FROM memory.chunks AS c JOIN copied AS m ON m.old = c.episode_id;
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-sharing", description=__doc__)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="blocks of queries, baseline and this tree alternately",
    )
    parser.add_argument("--baseline", default="1776ac7")
    parser.add_argument("--db", default="agent_memory_bench_sharing")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=common.DATA / "sharing.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    started = common.now_utc()
    series: dict[str, list[float]] = {}
    base_dir = Path(tempfile.mkdtemp(prefix="bench-sharing-"))
    subprocess.run(
        f"git -C {ROOT} archive {args.baseline} sql | tar -x -C {base_dir}", shell=True, check=True
    )
    bench_search.make_db(args.db)
    try:
        with psycopg.connect(dbname=args.db, autocommit=True) as conn:
            roles = bench_search.load(conn, args.episodes, args.agents, 0.05, args.seed)
            me, owner = roles[0], roles[1]
            model_id = conn.execute(
                "SELECT model_id FROM memory.embedding_models WHERE is_serving"
            ).fetchone()[0]
            ids = dict(conn.execute("SELECT db_role, agent_id FROM memory.agents").fetchall())
            # a fifth of the owner's episodes hold the tag it shares
            conn.execute("SET session_replication_role = replica")
            conn.execute(
                "UPDATE memory.episodes SET tags = ARRAY['shared'] WHERE agent_id = %s AND random() < 0.2",
                (ids[owner],),
            )
            conn.execute("RESET session_replication_role")
            conn.execute("ANALYZE memory.episodes")
            # the queries of bench_search: near the measured agent's vectors, cached
            rng = np.random.default_rng(args.seed + 1)
            sample = conn.execute(
                "SELECT embedding::text FROM memory.chunks WHERE agent_id = %s ORDER BY random() LIMIT %s",
                (ids[me], args.queries),
            ).fetchall()
            words = [f"w{i:05d}" for i in rng.integers(0, 3000, size=(args.queries, 3)).ravel()]
            queries = [
                f"sharing query {i}: " + " ".join(words[3 * i : 3 * i + 3])
                for i in range(len(sample))
            ]
            for q, (v,) in zip(queries, sample, strict=True):
                conn.execute(
                    "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
                    " VALUES (%s, memory._sha256(%s), %s::vector) ON CONFLICT DO NOTHING",
                    (model_id, q, v),
                )
            # the grantee: a copy of the measured agent's memory, granted the owner's tag
            grantee = "bench_sharing_grantee"
            conn.execute(f'DROP ROLE IF EXISTS "{grantee}"')
            conn.execute(f'CREATE ROLE "{grantee}" NOLOGIN')
            gid = conn.execute(
                "SELECT memory.create_agent('bench-sharing-grantee', %s)", (grantee,)
            ).fetchone()[0]
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                for stmt in COPY_AGENT.split(";")[:-1]:
                    conn.execute(stmt, {"src": ids[me], "dst": gid})
            conn.execute("ANALYZE memory.episodes")
            conn.execute("ANALYZE memory.chunks")
            conn.execute(f'SET SESSION AUTHORIZATION "{owner}"')
            conn.execute("SELECT memory.share('tag', 'bench-sharing-grantee', 'shared')")
            conn.execute("RESET SESSION AUTHORIZATION")
            member = conn.execute(
                "SELECT pg_has_role(%s, 'memory_share_grantee', 'MEMBER'), pg_has_role(%s, 'memory_share_grantee', 'MEMBER')",
                (grantee, me),
            ).fetchone()
            assert member == (True, False), (
                f"memberships of the grantee and the measured agent: {member}"
            )
        plain = "SELECT * FROM memory.search_episodic_memory(%s, k => 10)"
        shared_sql = plain.replace("k => 10", "k => 10, include_shared => true")
        rng = random.Random(args.seed)
        block = max(6, len(queries) // args.rounds)
        for r, start in enumerate(range(0, len(queries), block)):
            part = queries[max(0, start - 5) : start + block]
            # the same two sessions under both versions (the no-grant agent and the
            # grantee without include_shared), so that both run the same mix; the version
            # that runs first alternates (the second finds the block's pages cached)
            calls = {"no grant": (me, plain), "grantee, include_shared false": (grantee, plain)}
            versions = [
                ("baseline", base_dir / "sql", SEARCH_ARGS + ", double precision, boolean"),
                ("sharing", ROOT / "sql", SEARCH_ARGS),
            ]
            for label, sql_dir, drop in versions if r % 2 == 0 else versions[::-1]:
                log.info("block %d: %s functions", r + 1, label)
                apply_functions(args.db, sql_dir, drop)
                for name, v in interleaved(args.db, calls, part, rng).items():
                    series.setdefault(f"{label}, {name}", []).extend(v)
                if label == "sharing":
                    shared_calls = {"include_shared true": (grantee, shared_sql)}
                    for v in interleaved(args.db, shared_calls, part, rng).values():
                        series.setdefault("sharing, grantee, include_shared true", []).extend(v)
        with psycopg.connect(dbname=args.db, autocommit=True) as conn:
            conn.execute(f'SET SESSION AUTHORIZATION "{grantee}"')
            shared = conn.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id <> memory.current_agent()"
            ).fetchone()[0]
    finally:
        bench_search.drop_db(args.db)
        with psycopg.connect(dbname="postgres", autocommit=True) as conn:
            for i in range(args.agents):
                conn.execute(f'DROP ROLE IF EXISTS "bench_agent_{i:02d}"')
            conn.execute('DROP ROLE IF EXISTS "bench_sharing_grantee"')
    pct = bench_search.pct
    base50 = pct(series["baseline, no grant"], 50)
    lines = [
        f"## What sharing costs a search ({args.episodes:,} episodes, {args.agents} agents, hybrid, k 10)",
        "",
        f"Baseline: the functions of {args.baseline} (before sharing), applied and replaced by this tree's"
        f" in {args.rounds} blocks of the {len(queries)} queries, which version first alternating (new sessions"
        " each time). Within a"
        " block, each query runs for the agent without a grant and for the grantee (a copy of the same"
        f" memory, granted another agent's tag: {shared:,} shared episodes) in a random order; then,"
        " with this tree's functions, the grantee's searches with include_shared. The grantee under the"
        " baseline's functions pays the policies without any use of them (the baseline has no include_shared).",
        "",
        "| search | p50 ms | p95 ms | p50 / baseline p50 |",
        "|---|---|---|---|",
    ]
    for name, v in series.items():
        lines.append(
            f"| {name} | {pct(v, 50):.2f} | {pct(v, 95):.2f} | {pct(v, 50) / base50:.3f} |"
        )
    common.publish("\n".join(lines), args.report)
    latency = {n: {"p50": pct(v, 50), "p95": pct(v, 95), "n": len(v)} for n, v in series.items()}
    summary = {
        "episodes": args.episodes,
        "agents": args.agents,
        "shared_episodes": shared,
        "latency_ms": latency,
    }
    common.save("sharing", started, summary, series, path=args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
