"""Erasure: CALL memory.drop_agent on an agent with 100,000 episodes while another agent
writes (part ``erasure`` of ``make bench``).

In a scratch database built by the project's migrations: agent A with 100,000 episodes,
each with its embedding job (enqueued by the real trigger), one chunk and one pooled
vector, plus 1,000 working-memory items and 20 blocks; agent B with 1,000 episodes. The
HNSW index is left off for the load (a delete does not touch it; vacuum does later).

A writer session acts as B (SET SESSION AUTHORIZATION, so memory.current_agent() is B)
and calls remember() (and every tenth call set_working_memory()) in a loop, first alone
for the baseline, then while another session runs
``CALL memory.drop_agent(A, confirm => A)`` to the end. A sampler reads
pg_stat_activity every 5 ms and records how long B's backend waits on a lock
(wait_event_type = 'Lock') at a stretch: the blocking the target bounds (100 ms). The
writer's latencies before and during the drop are the baseline and the figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import psycopg

from bench import common
from bench.bench_search import drop_db, make_db

log = logging.getLogger("bench.erasure")
VICTIM, WRITER = "bench_drop_victim", "bench_drop_writer"


def prepare(conn: psycopg.Connection, episodes: int) -> dict[str, object]:
    ids = {}
    for role in (VICTIM, WRITER):
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        ids[role] = conn.execute(
            "SELECT memory.create_agent(%s, %s)", (role.replace("_", "-"), role)
        ).fetchone()[0]
        # the writer writes as fast as it can for the whole drop: the default per-minute
        # quota would stop it (the bench measures locks, not quotas)
        conn.execute(
            "SELECT memory.set_agent_limits(%s, max_episodes_per_minute => 10000000)",
            (role.replace("_", "-"),),
        )
    model = conn.execute(
        "SELECT model_id FROM memory.embedding_models WHERE is_serving"
    ).fetchone()[0]
    conn.execute(f"DROP INDEX memory.chunks_embedding_model_{model}_idx")
    t0 = time.monotonic()
    for role, n in ((VICTIM, episodes), (WRITER, 1000)):
        conn.execute(
            "INSERT INTO memory.episodes (agent_id, content, importance, tags, session_id) "
            "SELECT %s, 'Episodio ' || i || ': la reunión decidió usar Raft para el consenso, "
            "paso ' || i %% 97, (i %% 10) / 10.0, ARRAY['t' || i %% 7], 's' || i %% 50 "
            "FROM generate_series(1, %s) AS i",
            (ids[role], n),
        )
        conn.execute(
            "INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, "
            "char_end, content_sha256, embedding) "
            "SELECT e.agent_id, e.episode_id, %s, 0, 0, char_length(e.content), e.content_sha256, "
            "array_fill(0.05::real, ARRAY[384])::public.vector FROM memory.episodes AS e "
            "WHERE e.agent_id = %s",
            (model, ids[role]),
        )
        conn.execute(
            "INSERT INTO memory.pooled_embeddings (agent_id, episode_id, model_id, content_sha256, "
            "chunk_count, embedding) "
            "SELECT e.agent_id, e.episode_id, %s, e.content_sha256, 1, "
            "array_fill(0.05::real, ARRAY[384])::public.vector FROM memory.episodes AS e "
            "WHERE e.agent_id = %s",
            (model, ids[role]),
        )
    conn.execute(
        "INSERT INTO memory.working_memory (agent_id, context_type, key, content, expires_at) "
        "SELECT %s, 'task', 'k' || i, jsonb_build_object('i', i), now() + interval '1 day' "
        "FROM generate_series(1, 1000) AS i",
        (ids[VICTIM],),
    )
    conn.execute(
        "INSERT INTO memory.blocks (agent_id, label, value) "
        "SELECT %s, 'block_' || i, 'value ' || i FROM generate_series(1, 20) AS i",
        (ids[VICTIM],),
    )
    conn.execute("VACUUM ANALYZE")
    load_s = time.monotonic() - t0
    log.info("loaded %d episodes (+ chunks, pooled vectors, jobs) in %.0f s", episodes, load_s)
    return {"load_seconds": load_s, "victim": ids[VICTIM]}


class Writer(threading.Thread):
    """Agent B writing in a loop; latencies (ms) go to the current phase's list."""

    def __init__(self, db: str, role: str = WRITER) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dbname=db, autocommit=True)
        self.conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
        self.pid = self.conn.info.backend_pid
        self.phase: list[float] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                t = time.perf_counter()
                if i % 10 == 9:
                    self.conn.execute(
                        "SELECT memory.set_working_memory('task', %s, key => %s)",
                        ('{"step": 1}', f"k{i % 50}"),
                    )
                else:
                    self.conn.execute(
                        "SELECT memory.remember(%s, session_id => 'bench')",
                        (f"B sigue escribiendo {i}",),
                    )
                self.phase.append((time.perf_counter() - t) * 1000)
                i += 1
        except BaseException as exc:  # reported by the main thread
            self.error = exc


class LockSampler(threading.Thread):
    """Longest stretch during which the writer's backend waited on a lock."""

    def __init__(self, db: str, pid: int) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dbname=db, autocommit=True)
        self.pid = pid
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.samples = 0

    def run(self) -> None:
        since: float | None = None
        while not self.stop.is_set():
            row = self.conn.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (self.pid,)
            ).fetchone()
            now = time.perf_counter()
            self.samples += 1
            if row and row[0]:
                since = since if since is not None else now
            elif since is not None:
                self.waits.append((now - since) * 1000)
                since = None
            time.sleep(0.005)


def summary_of(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": common.pct(values, 0.5),
        "p99": common.pct(values, 0.99),
        "max": max(values) if values else float("nan"),
    }


def run(db: str, episodes: int, baseline_s: float, batch_rows: int) -> tuple[dict, dict]:
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        info = prepare(conn, episodes)
    writer = Writer(db)
    sampler = LockSampler(db, writer.pid)
    sampler.start()
    writer.start()
    time.sleep(baseline_s)
    baseline, writer.phase = writer.phase, []
    base_waits, sampler.waits = sampler.waits, []
    name = VICTIM.replace("_", "-")
    t0 = time.monotonic()
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        result = conn.execute(
            "CALL memory.drop_agent(%s, confirm => %s, batch_rows => %s)", (name, name, batch_rows)
        ).fetchone()[0]
    drop_s = time.monotonic() - t0
    during = writer.phase
    writer.stop.set()
    writer.join(30)
    sampler.stop.set()
    sampler.join(30)
    if writer.error:
        raise writer.error
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM memory.episodes WHERE agent_id = %(a)s)"
            " + (SELECT count(*) FROM memory.chunks WHERE agent_id = %(a)s)"
            " + (SELECT count(*) FROM memory.embedding_jobs WHERE agent_id = %(a)s)",
            {"a": info["victim"]},
        ).fetchone()[0]
    rows = sum(int(v) for v in result["removed"].values())
    summary = {
        "episodes": episodes,
        "batch_rows": batch_rows,
        "load_seconds": info["load_seconds"],
        "drop_seconds": drop_s,
        "batches": result["batches"],
        "rows_removed": rows,
        "removed": result["removed"],
        "rows_left": left,
        "writer_baseline": summary_of(baseline),
        "writer_during": summary_of(during),
        "max_lock_wait_ms": max(sampler.waits, default=0.0),
        "baseline_max_lock_wait_ms": max(base_waits, default=0.0),
        "lock_samples": sampler.samples,
        "target_ms": 100,
    }
    return summary, {"writes before the drop": baseline, "writes during the drop": during}


def section(s: dict) -> str:
    b, d = s["writer_baseline"], s["writer_during"]
    return "\n".join(
        [
            "# Erasure: drop_agent while another agent writes",
            "",
            f"`CALL memory.drop_agent` of an agent with {s['episodes']:,} episodes (each with its "
            "embedding job, one chunk and one pooled vector), 1,000 working-memory items and 20 "
            f"blocks, in batches of {s['batch_rows']:,} rows, while agent B calls `remember()` "
            "(one call in ten `set_working_memory()`) in a loop. Scratch database, HNSW index "
            "left off during the load.",
            "",
            "| measure | before the drop (baseline) | during the drop |",
            "|---|---|---|",
            f"| B's writes | {b['n']:,} | {d['n']:,} |",
            f"| B's write latency p50 / p99 / max | {b['p50']:.2f} / {b['p99']:.2f} / {b['max']:.1f} ms"
            f" | {d['p50']:.2f} / {d['p99']:.2f} / {d['max']:.1f} ms |",
            f"| B's longest wait on a lock (pg_stat_activity every 5 ms) | "
            f"{s['baseline_max_lock_wait_ms']:.1f} ms | **{s['max_lock_wait_ms']:.1f} ms** "
            f"(target <= {s['target_ms']} ms) |",
            "",
            f"The drop took {s['drop_seconds']:.1f} s ({s['batches']:,} committed batches, "
            f"{s['rows_removed']:,} rows counted in the tables it emptied, chunks, vectors and jobs "
            f"going with their episodes); {s['rows_left']} rows of the agent were left. "
            "Rows removed per table: "
            + ", ".join(f"{k} {int(v):,}" for k, v in sorted(s["removed"].items()))
            + ".",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-erasure", description=__doc__)
    parser.add_argument("--db", default="agent_memory_erasure")
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--batch-rows", type=int, default=2000)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=common.DATA / "erasure.json")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    started = common.now_utc()
    make_db(args.db)
    try:
        summary, series = run(args.db, args.episodes, args.baseline_seconds, args.batch_rows)
    finally:
        if not args.keep:
            drop_db(args.db)
            env = dict(os.environ, PGDATABASE="postgres")
            for role in (VICTIM, WRITER):
                subprocess.run(["psql", "-X", "-q", "-c", f'DROP ROLE IF EXISTS "{role}"'], env=env)
    common.save("erasure", started, summary, series, path=args.data)
    text = section(summary)
    if args.report:
        args.report.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
