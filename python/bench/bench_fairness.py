"""make bench, part fairness: agent A's latency with and without agent B's flood.

Issue 15's noisy neighbour: B writes 150 long episodes (about 400 repeats of a sentence
each, importance 1.0) in one statement; A then embeds queries and writes episodes of its
own. The same calls of A are measured first on the idle stack (the baseline) and then
while B's backlog is being embedded, in the same run, against the running main daemon:

- A's `embed_query` latency seen by the client (unique texts: no cache hit);
- A's episode freshness: commit to vectors stored, by the database's clock
  (embedding_jobs.done_at - enqueued_at), one episode at a time.

Targets (issue 15): during the flood, embed_query p95 < 200 ms and freshness < 5 s.
Writes reports/bench-fairness.md and reports/data/fairness.json.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from pathlib import Path

import psycopg
from testing.stack import temporary_agents

from bench import common

log = logging.getLogger("bench.fairness")

FLOOD = (
    "SELECT count(memory.remember(repeat('bob filler sentence number ' || g || "
    "' with assorted words to embed. ', 400), importance => 1.0)) FROM generate_series(1, %s) g"
)
QUERY_TARGET_MS = 200.0
FRESHNESS_TARGET_MS = 5000.0


def _open_jobs(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM memory.embedding_jobs WHERE state IN ('pending', 'processing')"
    ).fetchone()[0]


def measure_a(
    a: psycopg.Connection, queries: int, episodes: int
) -> tuple[list[float], list[float], int]:
    """A's embed_query latencies, episode freshness (ms), and queries that failed
    (38000: no answer within memory.embedding_settings.query_timeout; their latency
    is counted too)."""
    failed = 0
    query_ms: list[float] = []
    fresh_ms: list[float] = []
    per_episode = max(1, queries // max(1, episodes))
    for i in range(episodes):
        eid = a.execute(
            "SELECT memory.remember(%s, importance => 0.9)",
            (f"Alice noted step {i} of the nightingale launch plan {uuid.uuid4().hex}.",),
        ).fetchone()[0]
        for _ in range(per_episode):
            t0 = time.perf_counter()
            try:
                a.execute(
                    "SELECT memory.embed_query(%s)",
                    (f"nightingale launch step {uuid.uuid4().hex}",),
                ).fetchone()
            except psycopg.errors.ExternalRoutineException:
                failed += 1
            query_ms.append((time.perf_counter() - t0) * 1000)
        deadline = time.monotonic() + 600
        while True:
            row = a.execute(
                "SELECT extract(EPOCH FROM done_at - enqueued_at) * 1000 FROM memory.embedding_jobs "
                "WHERE episode_id = %s AND state = 'done'",
                (eid,),
            ).fetchone()
            if row is not None:
                fresh_ms.append(float(row[0]))
                break
            if time.monotonic() > deadline:
                raise TimeoutError("A's episode was not embedded within 10 minutes")
            time.sleep(0.02)
    return query_ms, fresh_ms, failed


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": common.pct(values, 0.5),
        "p95": common.pct(values, 0.95),
        "max": max(values),
        "n": len(values),
    }


def run(flood_episodes: int, queries: int, episodes: int) -> dict:
    started = common.now_utc()
    with temporary_agents("BenchA", "BenchB") as conns:
        a, b = conns["BenchA"], conns["BenchB"]
        log.info("baseline: A alone")
        base_q, base_f, base_failed = measure_a(a, queries, episodes)
        log.info("flood: B writes %s long episodes", flood_episodes)
        t0 = time.perf_counter()
        b.execute(FLOOD, (flood_episodes,))
        flood_write_ms = (time.perf_counter() - t0) * 1000
        flood_jobs = _open_jobs(b)
        flood_q, flood_f, flood_failed = measure_a(a, queries, episodes)
        left = _open_jobs(b)
        log.info("B had %s open jobs after A's measurements (of %s)", left, flood_jobs)
    summary = {
        "flood_episodes": flood_episodes,
        "flood_jobs": flood_jobs,
        "flood_write_ms": flood_write_ms,
        "flood_jobs_left_after": left,
        "query_ms": {"alone": _stats(base_q), "flood": _stats(flood_q)},
        "query_failed": {"alone": base_failed, "flood": flood_failed},
        "freshness_ms": {"alone": _stats(base_f), "flood": _stats(flood_f)},
        "query_target_ms": QUERY_TARGET_MS,
        "freshness_target_ms": FRESHNESS_TARGET_MS,
    }
    common.save(
        "fairness",
        started,
        summary,
        {
            "query_alone": base_q,
            "query_flood": flood_q,
            "freshness_alone": base_f,
            "freshness_flood": flood_f,
        },
    )
    return summary


def section(s: dict) -> str:
    q, f = s["query_ms"], s["freshness_ms"]
    return "\n".join(
        [
            "# Fairness: one agent's flood against another agent's latency",
            "",
            f"Agent B writes {s['flood_episodes']} long episodes (about 400 repeats of a sentence "
            f"each, importance 1.0) in one statement ({s['flood_write_ms']:,.0f} ms, "
            f"{s['flood_jobs']} embedding jobs); agent A then embeds queries (unique texts) and "
            "writes episodes of importance 0.9 one at a time, waiting for each to be embedded. "
            "The same calls of A were measured just before on the idle stack (baseline), in the "
            f"same run. {s['flood_jobs_left_after']} of B's jobs were still open when A finished, "
            "so every measurement of A ran during the flood.",
            "",
            "| measure of agent A | alone (baseline) | during B's flood | target during the flood |",
            "|---|---|---|---|",
            f"| `embed_query` latency, client side | p50 {q['alone']['p50']:.1f} ms, "
            f"p95 {q['alone']['p95']:.1f} ms | p50 {q['flood']['p50']:.1f} ms, "
            f"p95 {q['flood']['p95']:.1f} ms (max {q['flood']['max']:.0f}) | p95 < {s['query_target_ms']:.0f} ms |",
            f"| `embed_query` calls that timed out (38000) | {s['query_failed']['alone']} of "
            f"{q['alone']['n']} | {s['query_failed']['flood']} of {q['flood']['n']} | 0 |",
            f"| new episode, commit to vectors stored (database clock) | p50 {f['alone']['p50']:,.0f} ms, "
            f"max {f['alone']['max']:,.0f} ms | p50 {f['flood']['p50']:,.0f} ms, "
            f"max {f['flood']['max']:,.0f} ms | < {s['freshness_target_ms']:,.0f} ms |",
            "",
            "The daemon claims round-robin across agents (importance orders jobs within one "
            "agent only), so A's episode goes into the next batch, however long B's backlog; "
            "a query waits for at most one encode slice of a batch, never for the batch; "
            "for 10 s after a query embedding the daemon's slices (about 0.08 s of work, "
            "MEMORY_INTERACTIVE_SLICE_SECONDS) and claims (about 1 s) are smaller, "
            "otherwise 0.25 s and 2 s. The smallest batch is one "
            "text (one of B's is about 35 chunks): on a machine whose cores are "
            "oversubscribed (see the load average of the run) that alone takes over a "
            "minute, and PyTorch's two intra-op threads make it an order of magnitude worse.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", type=Path, default=common.REPORTS / "bench-fairness.md")
    parser.add_argument("--flood-episodes", type=int, default=150)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    s = run(args.flood_episodes, args.queries, args.episodes)
    args.report.write_text(section(s) + "\n")
    log.info("section in %s", args.report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
