"""make soak: writers, searchers and context builders against two embed daemons while a
fault injector kills a daemon, restarts and crashes Postgres, flushes and stops Redis and
fills the queue with a burst; then the invariants. Run by scripts/soak.sh, which starts
the soak's own Postgres and Redis (var/soak) first.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testing.stack import wait_for

from soak import invariants
from soak.invariants import Check
from soak.stack import Stack
from soak.workload import episode_text, run_client, sha

log = logging.getLogger("soak")
POISON = "XSOAKPOISONX"
MAX_SHORT_TTL = 6  # seconds: the working-memory client's short-lived items
AGENTS = {"NEXUS": "soak_nexus", "ARIA": "soak_aria"}
OPS = [
    "remember",
    "update_episode",
    "forget_episode",
    "learn_fact",
    "supersede_fact",
    "invalidate_fact",
    "set_working_memory",
    "set_block",
    "search_episodic",
    "search_semantic",
    "build_context",
    "search_shared",
    "share",
    "unshare",
]
WRITES = OPS[:8]
LATENCY_GROUPS = {
    "all writes": WRITES,
    "all searches": ["search_episodic", "search_semantic", "search_shared"],
    **{op: [op] for op in OPS},
    "burst": ["burst"],
}


@dataclass(frozen=True)
class Profile:
    duration: float  # seconds of load
    burst: int  # episodes in one transaction
    drain_timeout: float
    # (fraction of the duration, fault); a fault's recovery is part of the action
    schedule: tuple[tuple[float, str], ...]


PROFILES = {
    "short": Profile(
        duration=70,
        burst=300,
        drain_timeout=300,
        schedule=(
            (0.12, "kill_daemon_a"),
            (0.28, "restart_postgres"),
            (0.45, "flush_redis"),
            (0.60, "burst"),
            (0.72, "crash_postgres"),
            (0.85, "kill_daemon_b"),
        ),
    ),
    "long": Profile(
        duration=600,
        burst=2000,
        drain_timeout=900,
        schedule=tuple(
            (round(start + offset, 3), fault)
            for start in (0.0, 0.5)
            for offset, fault in (
                (0.05, "kill_daemon_a"),
                (0.12, "restart_postgres"),
                (0.20, "flush_redis"),
                (0.28, "burst"),
                (0.36, "crash_postgres"),
                (0.44, "kill_daemon_b"),
            )
        ),
    ),
}


class Soak:
    def __init__(self, stack: Stack, profile: Profile, seed: int, out_dir: Path) -> None:
        self.stack = stack
        self.profile = profile
        self.seed = seed
        self.out_dir = out_dir
        self.events: list[tuple[float, str, float]] = []
        self.burst_ledger: dict[str, Any] = {
            "role": AGENTS["ARIA"],
            "episodes": {},
            "facts": {},
            "working": {},
            "blocks": {},
            "samples": [],
            "errors": {},
            "unexpected": [],
            "degraded_searches": 0,
            "shared_rows_seen": 0,
        }
        self.t0 = 0.0

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        with self.stack.superuser() as conn:
            for name, role in AGENTS.items():
                conn.execute(f'CREATE ROLE "{role}" LOGIN')
                conn.execute("SELECT memory.create_agent(%s, %s)", (name, role))
            # retries 0.5 s apart instead of 5 s, so that the poisoned jobs spend their
            # attempts (the default 5) inside the drain; every other setting is the default
            conn.execute("UPDATE memory.embedding_settings SET retry_base = '500 milliseconds'")
        for name in ("soak-a", "soak-b"):
            self.stack.start_daemon(name, POISON)
        for d in self.stack.daemons.values():
            self.stack.wait_daemon(d)

    # ------------------------------------------------------------------ faults
    def fault(self, name: str) -> None:
        start = time.time()
        log.info("fault at %.1fs: %s", start - self.t0, name)
        actions: dict[str, Callable[[], None]] = {
            "kill_daemon_a": lambda: self._kill_and_restart("soak-a"),
            "kill_daemon_b": lambda: self._kill_and_restart("soak-b"),
            "restart_postgres": lambda: self._restart_postgres("fast"),
            "crash_postgres": lambda: self._restart_postgres("immediate"),
            "flush_redis": self._flush_redis,
            "burst": self._burst,
        }
        actions[name]()
        self.events.append((round(start - self.t0, 2), name, round(time.time() - start, 2)))

    def _kill_and_restart(self, name: str) -> None:
        self.stack.kill_daemon(name)
        time.sleep(4)  # the other daemon carries the load meanwhile
        self.stack.restart_daemon(name)

    def _restart_postgres(self, mode: str) -> None:
        self.stack.restart_postgres(mode)
        self.stack.wait_postgres()

    def _flush_redis(self) -> None:
        self.stack.stop_and_flush_redis()
        time.sleep(3)  # writes go on without Redis
        self.stack.start_redis()

    def _burst(self) -> None:
        rng = random.Random(self.seed + 99)
        texts = [episode_text(rng) for _ in range(self.profile.burst)]
        start = time.perf_counter()
        with self.stack.superuser() as conn:
            conn.execute(f'SET SESSION AUTHORIZATION "{AGENTS["ARIA"]}"')
            ids = conn.execute(
                "SELECT array_agg(memory.remember(t) ORDER BY n) FROM unnest(%s::text[]) WITH ORDINALITY AS u (t, n)",
                (texts,),
            ).fetchone()[0]
        ms = (time.perf_counter() - start) * 1000
        self.burst_ledger["samples"].append(("burst", round(time.time() - self.t0, 3), ms, True))
        for eid, text in zip(ids, texts, strict=True):
            self.burst_ledger["episodes"][str(eid)] = {
                "state": "live",
                "sha": [sha(text)],
                "poison": False,
            }

    # ------------------------------------------------------------------ run
    def clients(self) -> list[dict[str, Any]]:
        specs = []
        deadline = self.t0 + self.profile.duration
        base = {
            "conninfo": self.stack.conninfo(),
            "t0": self.t0,
            "deadline": deadline,
            "poison_marker": POISON,
        }
        n = 0
        for name, role in AGENTS.items():
            # each agent's search client also shares its tag "ops" with the other agent
            # and revokes it, on and off, and checks that what it reads through
            # include_shared is its own or the other's "ops" episodes
            other = next(o for o in AGENTS if o != name)
            for kind, pause, poison_rate in (
                ("episodes", (0.05, 0.15), 0.02),
                ("facts", (0.2, 0.4), 0.0),
                ("working", (0.1, 0.3), 0.0),
                ("search", (0.05, 0.2), 0.0),
                ("context", (0.3, 0.6), 0.0),
            ):
                n += 1
                specs.append(
                    {
                        **base,
                        "role": role,
                        "name": name,
                        "other": other,
                        "kind": kind,
                        "pause": pause,
                        "poison_rate": poison_rate,
                        "seed": self.seed * 1000 + n,
                        "out": str(self.out_dir / f"client-{n:02d}-{role}-{kind}.json"),
                    }
                )
        return specs

    def run(self) -> list[dict[str, Any]]:
        self.t0 = time.time()
        specs = self.clients()
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=run_client, args=(s,), name=Path(s["out"]).stem) for s in specs]
        for p in procs:
            p.start()
        for frac, fault in self.profile.schedule:
            at = self.t0 + frac * self.profile.duration
            time.sleep(max(0.0, at - time.time()))
            self.fault(fault)
        for p in procs:
            p.join(self.profile.duration + 120)
            if p.exitcode != 0:
                raise RuntimeError(f"client {p.name} failed (exit {p.exitcode})")
        ledgers = []
        for s in specs:
            led = json.loads(Path(s["out"]).read_text())
            led["role"] = s["role"]
            ledgers.append(led)
        ledgers.append(self.burst_ledger)
        # short-lived working memory set at the end expires before the checks
        time.sleep(max(0.0, self.t0 + self.profile.duration + MAX_SHORT_TTL + 2 - time.time()))
        return ledgers

    def drain(self) -> float:
        start = time.time()
        with self.stack.superuser() as conn:
            wait_for(
                "the embedding queue to drain",
                lambda: conn.execute(
                    "SELECT count(*) = 0 FROM memory.embedding_jobs WHERE state IN ('pending', 'processing')"
                ).fetchone()[0],
                self.profile.drain_timeout,
                0.5,
            )
        return time.time() - start

    # ------------------------------------------------------------------ verdict
    def check(self, ledgers: list[dict[str, Any]]) -> list[Check]:
        checks: list[Check] = []
        unexpected = [u for led in ledgers for u in led["unexpected"]]
        checks.append(
            Check(
                "no unexpected errors",
                not unexpected,
                f"{len(unexpected)} calls failed other than by a lost connection"
                + (f": {sorted(set(unexpected))[:5]}" if unexpected else ""),
            )
        )
        poisoned = sum(1 for led in ledgers for e in led["episodes"].values() if e["poison"])
        with self.stack.superuser() as conn:
            checks += invariants.acknowledged_writes(conn, ledgers)
            checks += invariants.embeddings(conn, POISON, poisoned)
            checks.append(invariants.vectors_match_text(conn, self._encoder(), 64, self.seed))
            first = invariants.request_reconcile(conn, 120)
            checks.append(invariants.cache_matches(conn, self.stack.redis()))
            second = invariants.request_reconcile(conn, 120)
            checks.append(
                Check(
                    "a second reconciliation finds nothing to repair",
                    second[0] >= 1 and second[1] == second[2] == second[3] == second[5] == 0,
                    f"first: missing {first[1]}, stale {first[2]}, extra {first[3]}, expired {first[4]}; "
                    f"second: missing {second[1]}, stale {second[2]}, extra {second[3]}, failed runs {second[5]}",
                )
            )
            health_check = self._health_settles(conn)
        checks.append(health_check)
        return checks

    def _health_settles(self, conn: Any, timeout: float = 90.0) -> Check:
        """health() reports nothing but the poisoned (deliberately dead) jobs, at once or
        within a pg_cron minute: a job run cut by the crash reads as failed until its
        next run, a daemon's heartbeat as late until its next beat."""
        start = time.time()
        while True:
            health = conn.execute("SELECT memory.health()").fetchone()[0]
            problems = [
                f"{layer}: {p}"
                for layer in ("embedding", "cache", "operations")
                for p in health[layer]["problems"]
            ]
            ok = all(
                p.startswith("embedding: ") and p.endswith("dead embedding job(s)")
                for p in problems
            )
            if ok or time.time() - start > timeout:
                break
            time.sleep(2)
        return Check(
            "health() reports no problem but the poisoned dead jobs",
            ok,
            f"status {health['status']} after {time.time() - start:.0f} s; "
            f"problems: {'; '.join(problems) or 'none'}",
        )

    def _encoder(self) -> Any:
        """The serving model, loaded here as the daemon loads it, to re-encode a sample."""
        from embed_daemon.model import resolve_source
        from sentence_transformers import SentenceTransformer

        with self.stack.superuser() as conn:
            source = conn.execute(
                "SELECT source FROM memory.embedding_models WHERE is_serving"
            ).fetchone()[0]
        return SentenceTransformer(str(resolve_source(source)), device="cpu", local_files_only=True)


def report(
    profile_name: str,
    profile: Profile,
    soak: Soak,
    ledgers: list[dict[str, Any]],
    checks: list[Check],
    drain_s: float,
) -> str:
    samples = [s for led in ledgers for s in led["samples"]]
    faults = {}
    for led in ledgers:
        for k, v in led["errors"].items():
            faults[k] = faults.get(k, 0) + v
    lost_conn = sum(v for k, v in faults.items() if k.endswith(":fault"))
    degraded = sum(led["degraded_searches"] for led in ledgers)
    shared = sum(led.get("shared_rows_seen", 0) for led in ledgers)
    lines = [
        f"# Soak ({profile_name}: {profile.duration:.0f} s of load, seed {soak.seed})",
        "",
        "| invariant | verdict | detail |",
        "|---|---|---|",
        *[f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in checks],
        "",
        f"Queue drained {drain_s:.1f} s after the load stopped. Calls cut by a fault "
        f"(in doubt, not counted as acknowledged): {lost_conn}. Searches answered from full "
        f"text while no daemon could embed the query: {degraded}. Results of the other agent "
        f"seen through include_shared (each checked to be in the granted tag): {shared}.",
        "",
        "| fault | at (s) | took (s) |",
        "|---|---|---|",
        *[f"| {name} | {at:.1f} | {took:.1f} |" for at, name, took in soak.events],
        "",
        "Latency of acknowledged calls during the run, faults included (ms):",
        "",
        "| call | n | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
        *[
            f"| {op} | {n} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {mx:.1f} |"
            for op, n, p50, p95, p99, mx in invariants.percentiles(samples, LATENCY_GROUPS)
        ],
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="soak", description=__doc__)
    ap.add_argument("--var", type=Path, required=True, help="the soak stack's folder (var/soak)")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="long")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--report", type=Path, help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[soak] %(message)s")
    profile = PROFILES[args.profile]
    out_dir = args.var / "clients"
    out_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack.from_env(args.var)
    soak = Soak(stack, profile, args.seed, out_dir)
    try:
        soak.prepare()
        log.info("load for %.0f s (profile %s, seed %d)", profile.duration, args.profile, args.seed)
        ledgers = soak.run()
        for name, d in stack.daemons.items():
            if not d.alive():
                log.info("daemon %s is down after the run; restarting it for the drain", name)
                stack.restart_daemon(name)
        drain_s = soak.drain()
        checks = soak.check(ledgers)
    finally:
        codes = stack.stop_daemons()
        log.info("daemons stopped: %s", codes)
    text = report(args.profile, profile, soak, ledgers, checks, drain_s)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        log.error("FAILED: %s", "; ".join(failed))
        return 1
    log.info(
        "all %d invariants hold (report of this run above%s)",
        len(checks),
        f", and in {args.report}" if args.report else "",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
