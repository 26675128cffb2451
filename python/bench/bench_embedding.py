"""Benchmarks of the embedding pipeline (`make bench`).

Every figure is a ratio against a baseline measured in the same run on the same
machine, never an absolute target checked in a test:

1. pipeline efficiency: chunks/s end to end (claim, chunk in the database, encode,
   complete with vectors and HNSW) over bare SentenceTransformer.encode of the same
   chunk texts, in the same process with the same model object;
2. freshness: commit to embedded for single inserts on an idle system (a real daemon);
3. backfill: 4,704 LoCoMo turns from enqueue to 100% coverage (a real daemon), with
   the bare-encode time of the same chunk texts beside it;
4. write overhead: 10,000 episodes through the triggers vs the same rows into a copy
   of the table without them.

It works in a scratch database of its own (dropped at the end) and prints a Markdown
report, also written to reports/bench-embedding.md; its figures and raw samples (the
freshness of every insert, in ms) go to reports/data/embedding.json for the report and
the plots (bench.report, bench.plots).
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from embed_daemon.config import Config, connect
from embed_daemon.metrics import HealthState, Metrics
from embed_daemon.model import ModelPool
from embed_daemon.worker import QueueAPI, Worker, check_schema
from testing.stack import (
    CONFIG,
    ROOT,
    RUN_DIR,
    SECRETS,
    DaemonProcess,
    ScratchDatabase,
    wait_for,
)

from bench import common

log = logging.getLogger("bench")
# beside the checkout; LOCOMO_DEV overrides (a worktree lives one level deeper)
DATASET = Path(os.environ.get("LOCOMO_DEV") or ROOT.parent / "shared" / "datasets" / "locomo-dev")
MODEL = "all-MiniLM-L6-v2"


def locomo() -> tuple[list[str], list[str]]:
    """(turns, sessions): every turn as '<speaker>: <text>' (+ image caption), and
    every session as one long episode (its turns, one per line)."""
    files = sorted(glob.glob(str(DATASET / "*.json")))
    if not files:
        raise SystemExit(f"the LoCoMo development split is missing ({DATASET})")
    turns: list[str] = []
    sessions: list[str] = []
    for f in files:
        conv = json.loads(Path(f).read_text())
        keys = sorted(
            (k for k in conv if k.startswith("session_") and isinstance(conv[k], list)),
            key=lambda k: int(k.split("_")[1]),
        )
        for k in keys:
            lines = []
            for t in conv[k]:
                text = f"{t['speaker']}: {t['text']}"
                if t.get("blip_caption"):
                    text += f" [shares an image: {t['blip_caption']}]"
                lines.append(text)
            turns.extend(lines)
            sessions.append("\n".join(lines))
    return turns, sessions


pct = common.pct


def drain_once(worker: Worker) -> None:
    """Connects, drains the queue once and returns: the daemon's worker in this process."""
    with connect(worker.cfg, "worker") as conn:
        check_schema(conn)
        api = QueueAPI(conn, worker.cfg.worker_name)
        worker._load_models(api)
        api.release_own_leases()
        if not worker.delivery.is_alive():
            worker.delivery.start()
        worker._drain(api)
        worker.delivery.flush()


def backend_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a server backend of this machine's cluster has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


AUTOCOMMIT = "one INSERT per row, autocommit"
WRITE_MODES = ("one INSERT of all rows", "one INSERT per row, one transaction", AUTOCOMMIT)


class Bench:
    def __init__(self, db: ScratchDatabase, role: str) -> None:
        self.db = db
        self.role = role
        self.rows: list[tuple[str, str, str, str]] = []  # section, measure, value, baseline/ratio
        self.notes: list[str] = []
        # key figures and raw samples for reports/data/embedding.json
        self.summary: dict[str, Any] = {}
        self.series: dict[str, list[float]] = {}

    # -- helpers --------------------------------------------------------------------
    def insert(self, texts: list[str], *, one_statement: bool = True) -> None:
        with self.db.as_agent(self.role) as conn, conn.transaction():
            if one_statement:
                conn.execute(
                    "INSERT INTO memory.episodes (content) SELECT unnest(%s::text[])", (texts,)
                )
            else:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO memory.episodes (content) VALUES (%s)", [(t,) for t in texts]
                    )

    def clear(self) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM memory.episodes")
            conn.execute("DELETE FROM memory.query_embedding_cache")

    def open_jobs(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM memory.embedding_jobs WHERE state <> 'done'"
                ).fetchone()[0]
            )

    def chunk_texts(self) -> list[str]:
        """The texts of every stored chunk, as the pipeline embedded them."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT substr(e.content, c.char_start + 1, c.char_end - c.char_start) "
                "FROM memory.chunks AS c JOIN memory.episodes AS e USING (episode_id) ORDER BY c.chunk_id"
            ).fetchall()
        return [r[0] for r in rows]

    def requeue_all(self) -> int:
        with self.db.connect() as conn:
            conn.execute("SET ROLE memory_operator")
            return int(conn.execute("SELECT memory.reembed(true)").fetchone()[0])

    # -- 1. efficiency ----------------------------------------------------------------
    def efficiency(self, key: str, name: str, texts: list[str], repeats: int) -> None:
        env = dict(os.environ)
        env.update(
            PGHOST=str(RUN_DIR), PGPORT=CONFIG["PGPORT_MEMORY"], PGDATABASE=self.db.name,
            PGUSER="memory_daemon", PGPASSFILE=str(SECRETS / "pgpass"),
            MEMORY_WORKER_NAME="bench-inprocess",
        )  # fmt: skip
        cfg = Config.from_env(env)
        os.environ.update(
            {k: env[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSFILE")}
        )
        pool = ModelPool(cfg.encode_batch_size)
        worker = Worker(cfg, pool, Metrics(), HealthState(60), threading.Event())
        self.clear()
        drain_once(worker)  # loads and warms the model up: not part of the timing
        self.insert(texts)
        pipe_times: list[float] = []
        bare_times: list[float] = []
        chunks: list[str] = []
        model = None
        for r in range(repeats):
            if r > 0:
                self.requeue_all()
            t0 = time.perf_counter()
            drain_once(worker)
            pipe_times.append(time.perf_counter() - t0)
            if self.open_jobs():
                raise RuntimeError("the in-process worker left jobs undone")
            if model is None:
                model = pool.encoder(MODEL).model
                chunks = self.chunk_texts()
            t0 = time.perf_counter()
            model.encode(
                chunks,
                batch_size=cfg.encode_batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            bare_times.append(time.perf_counter() - t0)
        pipe, bare = min(pipe_times), min(bare_times)
        n = len(chunks)
        self.summary.setdefault("efficiency", {})[key] = {
            "name": name,
            "episodes": len(texts),
            "chunks": n,
            "repeats": repeats,
            "pipeline_s": pipe,
            "bare_s": bare,
            "pipeline_chunks_per_s": n / pipe,
            "bare_chunks_per_s": n / bare,
            "ratio": bare / pipe,
            "target": 0.85,
        }
        self.rows.append(
            (
                "pipeline efficiency",
                f"{name}: {len(texts)} episodes, {n} chunks",
                f"{n / pipe:.1f} chunks/s end to end",
                f"bare encode {n / bare:.1f} chunks/s; ratio **{bare / pipe:.2f}** (target >= 0.85)",
            )
        )
        log.info(
            "efficiency %s: pipeline %.2fs bare %.2fs ratio %.2f", name, pipe, bare, bare / pipe
        )

    # -- 2. freshness -------------------------------------------------------------------
    def freshness(self, texts: list[str], n: int) -> None:
        self.clear()
        d = DaemonProcess(self.db.name, "bench-fresh").start().wait_ready()
        try:
            d.wait_idle()
            db_side: list[float] = []
            client: list[float] = []
            with self.db.as_agent(self.role) as conn, self.db.connect() as watch:
                for i in range(n):
                    time.sleep(0.3)  # back to idle, waiting on LISTEN
                    eid = conn.execute(
                        "INSERT INTO memory.episodes (content) VALUES (%s) RETURNING episode_id",
                        (texts[i],),
                    ).fetchone()[0]
                    committed = time.perf_counter()
                    row = wait_for(
                        "an episode to be embedded",
                        lambda eid=eid: watch.execute(
                            "SELECT extract(epoch FROM done_at - enqueued_at) FROM memory.embedding_jobs "
                            "WHERE episode_id = %s AND state = 'done'",
                            (eid,),
                        ).fetchone(),
                        timeout=60,
                        interval=0.002,
                    )
                    client.append(time.perf_counter() - committed)
                    db_side.append(float(row[0]))
        finally:
            d.stop()
        self.series["freshness, database clock"] = [1000 * x for x in db_side]
        self.series["freshness, seen by the writer"] = [1000 * x for x in client]
        self.summary["freshness"] = {
            "inserts": n,
            "p50_ms": 1000 * pct(db_side, 0.5),
            "p95_ms": 1000 * pct(db_side, 0.95),
            "max_ms": 1000 * max(db_side),
            "writer_p50_ms": 1000 * pct(client, 0.5),
            "writer_p95_ms": 1000 * pct(client, 0.95),
            "target_p95_ms": 1000.0,
        }
        self.rows.append(
            (
                "freshness",
                f"{n} single inserts, idle daemon (database clock: enqueue to vectors stored)",
                f"p50 {pct(db_side, 0.5) * 1000:.0f} ms, p95 {pct(db_side, 0.95) * 1000:.0f} ms, "
                f"max {max(db_side) * 1000:.0f} ms",
                f"target p95 < 1000 ms: **{'met' if pct(db_side, 0.95) < 1 else 'missed'}**",
            )
        )
        self.rows.append(
            (
                "freshness",
                "same, seen by the writer (commit returned to job observed done, 2 ms polling)",
                f"p50 {pct(client, 0.5) * 1000:.0f} ms, p95 {pct(client, 0.95) * 1000:.0f} ms",
                "",
            )
        )

    # -- 3. backfill ------------------------------------------------------------------------
    def backfill(self, turns: list[str], n: int) -> None:
        self.clear()
        texts = [turns[i % len(turns)] for i in range(n)]
        d = DaemonProcess(self.db.name, "bench-backfill").start().wait_ready()
        try:
            d.wait_idle()
            with self.db.connect() as watch:
                t0 = time.perf_counter()
                self.insert(texts)
                wait_for(
                    "100% coverage",
                    lambda: watch.execute(
                        "SELECT count(*) = 0 FROM memory.embedding_jobs WHERE state <> 'done'"
                    ).fetchone()[0],
                    timeout=3600,
                    interval=0.1,
                )
                elapsed = time.perf_counter() - t0
        finally:
            d.stop()
        chunks = self.chunk_texts()
        pool = ModelPool(32)
        with self.db.connect() as conn:
            pool.update_registry(QueueAPI(conn, "bench").registry())
        model = pool.encoder(MODEL).model
        # An untimed pass over the same chunks first: a freshly loaded model pays a one-off
        # cost for every new input shape (a batch's padded length), which made a cold
        # baseline up to 3x slower than the same encode warm.
        model.encode(chunks, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        t0 = time.perf_counter()
        model.encode(chunks, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        bare = time.perf_counter() - t0
        with self.db.connect() as conn:
            health = conn.execute("SELECT memory.health()").fetchone()[0]["embedding"]
        self.summary["backfill"] = {
            "episodes": n,
            "chunks": len(chunks),
            "elapsed_s": elapsed,
            "bare_s": bare,
            "ratio": bare / elapsed,
            "coverage": health["serving_coverage"],
        }
        self.rows.append(
            (
                "backfill",
                f"{n} LoCoMo turns ({len(chunks)} chunks) in one transaction, real daemon",
                f"{elapsed:.1f} s from commit to 100% coverage ({n / elapsed:.0f} episodes/s)",
                f"bare encode of the same chunks {bare:.1f} s; ratio **{bare / elapsed:.2f}**; "
                f"health() coverage {health['serving_coverage']}",
            )
        )

    # -- 4. write overhead ------------------------------------------------------------------
    def write_overhead(self, turns: list[str], n: int, repeats: int) -> None:
        self.clear()
        texts = [turns[i % len(turns)] for i in range(n)]
        with self.db.connect() as conn:
            agent_id = conn.execute(
                "SELECT agent_id FROM memory.agents WHERE db_role = %s", (self.role,)
            ).fetchone()[0]
            conn.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE")
            conn.execute("CREATE SCHEMA bench_copy")
            conn.execute("CREATE TABLE bench_copy.episodes (LIKE memory.episodes INCLUDING ALL)")
            # the same foreign keys as the real table: only the triggers differ
            conn.execute(
                "ALTER TABLE bench_copy.episodes ADD FOREIGN KEY (agent_id) REFERENCES memory.agents (agent_id), "
                "ADD FOREIGN KEY (agent_id, project_id) REFERENCES memory.projects (agent_id, project_id)"
            )
            results: dict[tuple[str, str], list[float]] = {}
            cpu: dict[tuple[str, str], list[float]] = {}
            backend = conn.info.backend_pid
            for _ in range(repeats):
                for table in ("memory.episodes", "bench_copy.episodes"):
                    for mode in WRITE_MODES:
                        conn.execute(f"DELETE FROM {table}")
                        conn.execute("VACUUM ANALYZE memory.embedding_jobs")
                        t0, c0 = time.perf_counter(), backend_cpu_seconds(backend)
                        if mode == AUTOCOMMIT:
                            # each row its own transaction (as remember() from a client)
                            for t in texts[: self.autocommit_rows(n)]:
                                conn.execute(
                                    f"INSERT INTO {table} (agent_id, content) VALUES (%s, %s)",
                                    (agent_id, t),
                                )
                        else:
                            with conn.transaction():
                                if mode.startswith("one INSERT of"):
                                    conn.execute(
                                        f"INSERT INTO {table} (agent_id, content) SELECT %s, unnest(%s::text[])",
                                        (agent_id, texts),
                                    )
                                else:
                                    with conn.cursor() as cur:
                                        cur.executemany(
                                            f"INSERT INTO {table} (agent_id, content) VALUES (%s, %s)",
                                            [(agent_id, t) for t in texts],
                                        )
                        results.setdefault((table, mode), []).append(time.perf_counter() - t0)
                        cpu.setdefault((table, mode), []).append(backend_cpu_seconds(backend) - c0)
            conn.execute("DROP SCHEMA bench_copy CASCADE")
        for mode in WRITE_MODES:
            rows = self.autocommit_rows(n) if mode == AUTOCOMMIT else n
            real = min(results[("memory.episodes", mode)])
            copy = min(results[("bench_copy.episodes", mode)])
            real_cpu = min(cpu[("memory.episodes", mode)])
            copy_cpu = min(cpu[("bench_copy.episodes", mode)])
            key = {WRITE_MODES[0]: "one_statement", WRITE_MODES[1]: "row_by_row"}.get(
                mode, "autocommit"
            )
            self.summary.setdefault("writes", {})[key] = {
                "mode": mode,
                "rows": rows,
                "triggers_ms": 1000 * real,
                "copy_ms": 1000 * copy,
                "ratio": real / copy,
                "triggers_cpu_ms": 1000 * real_cpu,
                "copy_cpu_ms": 1000 * copy_cpu,
                "cpu_ratio": real_cpu / copy_cpu if copy_cpu else None,
            }
            self.rows.append(
                (
                    "write overhead",
                    f"{rows} episodes, {mode}",
                    f"{real * 1000:.0f} ms with the triggers ({rows / real:.0f} rows/s)",
                    f"copy without triggers {copy * 1000:.0f} ms; overhead **{(real / copy - 1) * 100:.0f}%** "
                    f"(x{real / copy:.2f}); server CPU {real_cpu * 1e6 / rows:.0f} against "
                    f"{copy_cpu * 1e6 / rows:.0f} µs per row (x{real_cpu / max(copy_cpu, 1e-9):.2f})",
                )
            )
        self.clear()

    @staticmethod
    def autocommit_rows(n: int) -> int:
        """Rows of the autocommit mode: one commit (a WAL flush) each, so fewer."""
        return max(1, n // 5)

    @staticmethod
    def torch_threads() -> int:
        import torch

        return int(torch.get_num_threads())

    def report(self, started: float) -> str:
        lines = [
            "## Embedding pipeline",
            "",
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU core(s), "
            f"no GPU; model {MODEL} (CPU, {self.torch_threads()} torch threads); "
            f"total {time.perf_counter() - started:.0f} s; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared: other work "
            "running at the same time slows either side). Every ratio compares with a baseline "
            "measured in this same run, alternating with it (best of the repeats for both sides).",
            "",
            "| section | measure | result | baseline and ratio |",
            "|---|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        lines += [
            "",
            "How each figure is measured:",
            "- pipeline efficiency: the daemon's worker in this process (claim with chunking in the "
            "database, encode, complete with the HNSW inserts on a second connection while the next "
            "batch encodes) against `SentenceTransformer.encode` of the identical chunk texts with the "
            "same model object, batch size 32, `normalize_embeddings=True`.",
            "- freshness: a real daemon process, idle on LISTEN; `done_at - enqueued_at` of each job "
            "(clock of the database; enqueued_at is taken by the trigger just before commit).",
            "- backfill: a real daemon process; the time includes the database's HNSW inserts (one per "
            "chunk, on the same cores as the model), which the bare-encode baseline does not do. The "
            "baseline encodes with a warm model (one untimed pass over the same chunks first); the "
            "daemon is fresh, so its time includes its model's first pass over new input shapes.",
            "- write overhead: the copy is `LIKE memory.episodes INCLUDING ALL` plus the same foreign "
            "keys, so the difference is the write path's triggers: the job rows with their indexes, "
            "the quota and pending-jobs counters, and the wake-up. Server CPU is the inserting "
            "backend's user + system time (/proc), which the machine's load disturbs less than the "
            "wall clock.",
        ]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples (a smoke run)")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "bench-embedding.md")
    parser.add_argument(
        "--data",
        type=Path,
        default=common.DATA / "embedding.json",
        help="where the figures and raw samples go (JSON)",
    )
    parser.add_argument(
        "--fresh-inserts", type=int, default=100, help="single inserts timed for freshness"
    )
    parser.add_argument(
        "--sections",
        default="efficiency,freshness,backfill,writes",
        help="comma-separated subset of efficiency, freshness, backfill, writes",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("embed_daemon").setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    started = time.perf_counter()
    started_at = common.now_utc()
    turns, sessions = locomo()
    db = ScratchDatabase("embbench").create()
    try:
        bench = Bench(db, db.make_agent("Bench"))
        q = args.quick
        sections = set(args.sections.split(","))
        if "efficiency" in sections:
            bench.efficiency(
                "long",
                "LoCoMo sessions as long episodes",
                sessions[: 20 if q else 60],
                1 if q else 2,
            )
            bench.efficiency(
                "short",
                "LoCoMo turns as short episodes",
                turns[: 200 if q else 1500],
                1 if q else 2,
            )
        if "freshness" in sections:
            bench.freshness(turns[::7], 10 if q else args.fresh_inserts)
        if "backfill" in sections:
            bench.backfill(turns, 500 if q else 4704)
        if "writes" in sections:
            bench.write_overhead(turns, 1000 if q else 10_000, 1 if q else 2)
        report = bench.report(started)
    finally:
        db.drop()
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    log.info("written to %s", args.output)
    bench.summary["model"] = MODEL
    bench.summary["torch_threads"] = bench.torch_threads()
    bench.summary["quick"] = q
    common.save("embedding", started_at, bench.summary, bench.series, path=args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
