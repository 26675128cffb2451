"""Read scaling on the HA stack (part ``ha`` of ``make bench``; needs ``make up-ha``).

Hybrid search throughput with 1, 2 and 3 nodes serving the reads: one agent with
synthetic episodes (clustered 384-d vectors written directly, as in the search
benchmark) in the HA stack's database, query vectors put in the (replicated) query
cache on the leader, then pgbench runs ``memory.search_episodic_memory(text)`` as the
agent for a fixed time with the same total number of clients spread over the leader
alone, the leader and one standby, then all three nodes. The baseline is the leader
alone in the same run. On a 2-core machine the three nodes share the same cores, so the
gain is bounded by the CPU, not by PostgreSQL: the figure says how much of the second
and third node's capacity the design can use there. The agent and its rows are dropped
at the end (``memory.drop_agent``).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
from pathlib import Path

import numpy as np
from soak_ha.stack import HaStack

from bench import common
from bench.bench_load import load_synthetic_agent, run_pgbench
from bench.bench_search import DIMS, vector_text

log = logging.getLogger("bench.ha")
ROLE = "bench_ha_reads"
AGENT = "bench-ha-reads"
QUERIES = 200
SCRIPT = (
    "\\set q random(0, 199)\n"
    "SELECT count(*) FROM memory.search_episodic_memory('ha read query ' || :q, k => 10);\n"
)


def prepare(ha: HaStack, leader: str, episodes: int, seed: int, password: str) -> None:
    rng = np.random.default_rng(seed)
    with ha.connect(leader) as conn:
        if conn.execute("SELECT 1 FROM memory.agents WHERE name = %s", (AGENT,)).fetchone():
            conn.execute("CALL memory.drop_agent(%s, confirm => %s)", (AGENT, AGENT))
        conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')
        conn.execute(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{password}'")
        conn.execute("SELECT memory.create_agent(%s, %s)", (AGENT, ROLE))
        conn.execute("SELECT memory.set_agent_limits(%s, connection_limit => 64)", (AGENT,))
        agent, model_id = conn.execute(
            "SELECT a.agent_id, m.model_id FROM memory.agents AS a, memory.embedding_models AS m"
            " WHERE a.name = %s AND m.is_serving",
            (AGENT,),
        ).fetchone()
        centroids, _ = load_synthetic_agent(conn, agent, model_id, episodes, rng)
        q = centroids[rng.integers(0, 400, size=QUERIES)] + rng.normal(
            scale=0.6, size=(QUERIES, DIMS)
        ).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        for i, v in enumerate(vector_text(q)):
            conn.execute(
                "INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)"
                " VALUES (%s, memory._sha256(%s), %s::vector) ON CONFLICT DO NOTHING",
                (model_id, f"ha read query {i}", v),
            )
        conn.execute("ANALYZE memory.episodes")
        conn.execute("ANALYZE memory.chunks")
    ha.wait_replayed()


def run_nodes(
    ha: HaStack, db: str, nodes: list[str], clients: int, seconds: int, password: str
) -> dict:
    """pgbench on each of nodes at once, clients spread evenly; the tps summed."""
    per = [
        clients // len(nodes) + (1 if i < clients % len(nodes) else 0) for i in range(len(nodes))
    ]
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def one(node: str, n: int) -> None:
        try:
            results[node] = run_pgbench(
                db, SCRIPT, n, seconds, password, role=ROLE, server=("127.0.0.1", ha.port(node))
            )[0]
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [
        threading.Thread(target=one, args=(nd, n))
        for nd, n in zip(nodes, per, strict=True)
        if n > 0
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {
        "nodes": nodes,
        "clients": per,
        "tps": sum(r["tps"] for r in results.values()),
        "per_node_tps": {k: v["tps"] for k, v in results.items()},
        "p95_ms": max(v["p95"] for v in results.values()),
    }


def report(runs: list[dict], episodes: int, clients: int, seconds: int) -> str:
    base = runs[0]["tps"]
    lines = [
        "## Read scaling on the HA stack (`make up-ha`)",
        "",
        f"Hybrid search (`memory.search_episodic_memory(text)`, k 10, query vectors from the replicated "
        f"query cache) as one agent holding {episodes:,} synthetic episodes, {clients} pgbench clients in "
        f"all for {seconds} s per configuration, spread evenly over the nodes serving reads. The three "
        "PostgreSQL nodes share the machine's cores.",
        "",
        "| nodes serving reads | clients per node | tps | tps per node | p95 ms (worst node) | tps / leader alone |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {', '.join(r['nodes'])} | {', '.join(map(str, r['clients']))} | {r['tps']:.0f} | "
            f"{', '.join(f'{v:.0f}' for v in r['per_node_tps'].values())} | {r['p95_ms']:.1f} | "
            f"{r['tps'] / base:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-ha", description=__doc__)
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    started = common.now_utc()
    ha = HaStack.running()
    ha.wait_healthy()
    leader = ha.leader(timeout=60)
    standbys = ha.standbys()
    password = secrets.token_urlsafe(18)
    prepare(ha, leader, args.episodes, args.seed, password)
    runs = []
    try:
        for n in range(1, 2 + len(standbys)):
            nodes = [leader, *standbys[: n - 1]]
            # warm each node's caches and prepared plans before measuring
            run_nodes(ha, ha.dbname, nodes, len(nodes), 3, password)
            r = run_nodes(ha, ha.dbname, nodes, args.clients, args.seconds, password)
            log.info("%d node(s): %.0f tps", n, r["tps"])
            runs.append(r)
    finally:
        with ha.connect(ha.leader(timeout=60)) as conn:
            conn.execute("CALL memory.drop_agent(%s, confirm => %s)", (AGENT, AGENT))
            conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')
    text = report(runs, args.episodes, args.clients, args.seconds)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    common.save(
        "ha",
        started,
        {"episodes": args.episodes, "clients": args.clients, "seconds": args.seconds, "runs": runs},
        {},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
