"""Failover soak of the HA stack (make soak-ha; issue 18).

Sixteen writing clients, each an agent of its own, call remember, learn_fact and
set_working_memory with an idempotency key through the read-write multi-host URI and,
on a connection error, reconnect and retry the same call with the same key until it is
acknowledged. Readers search the standbys (prefer-standby URI) for the latest
acknowledged episode and measure how stale the standby was. Meanwhile the faults of the
profile hit the cluster: kill -9 of the leader's postmaster, a planned patronictl
switchover, etcd frozen for a while, a replica rebuilt with patronictl reinit.

Then the queue drains and the invariants are checked on the leader: no acknowledged
write lost, no duplicate, every episode and fact embedded, the Redis cache equal to
PostgreSQL after one reconciliation, and pg_cron's launcher running on one node at a
time (sampled every half second), its probe job on the leader only.
Writes' unavailability per fault is the longest gap between two acknowledgements
around it. The report goes to --report (reports/soak-ha.md by default).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from soak.invariants import Check, cache_matches, embeddings, request_reconcile
from soak.workload import FAULT_STATES, sentence, sha
from testing.stack import ROOT, SECRETS

from soak_ha.stack import NODES, HaStack

log = logging.getLogger("soak_ha")
# a connection that broke, or a node that stopped being writable under the client
RETRY_STATES = FAULT_STATES | {"25006", "57014", "08P01"}


@dataclass
class Profile:
    name: str
    writers: int
    readers: int
    settle: float  # seconds of load between faults
    faults: list[str]
    etcd_pause: float
    pause: tuple[float, float]  # each writer's pause between writes (the daemon must keep up)


PROFILES = {
    "short": Profile(
        "short",
        16,
        2,
        8.0,
        ["kill", "switchover", "etcd", "reinit"],
        etcd_pause=20.0,
        pause=(1.5, 2.5),
    ),
    # make test (CI): one leader kill and one planned switchover, on a stack of its own
    "ci": Profile(
        "ci",
        16,
        2,
        6.0,
        ["kill", "switchover"],
        etcd_pause=0.0,
        pause=(1.5, 2.5),
    ),
    # planned switchovers only: their write unavailability (target 3 s) under the load
    "switchover": Profile(
        "switchover",
        16,
        2,
        8.0,
        ["switchover"] * 4,
        etcd_pause=0.0,
        pause=(1.5, 2.5),
    ),
    "long": Profile(
        "long",
        16,
        4,
        40.0,
        [
            "kill",
            "switchover",
            "kill",
            "etcd",
            "reinit",
            "kill",
            "switchover",
            "kill",
            "switchover",
        ],
        etcd_pause=30.0,
        pause=(3.0, 5.0),
    ),
}


@dataclass
class Ack:
    kind: str  # episode, fact, working
    role: str
    id: str
    body: str
    key: str
    started: float
    done: float
    attempts: int


@dataclass
class Shared:
    stop: threading.Event = field(default_factory=threading.Event)
    acks: list[Ack] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)  # keys given up at the deadline
    errors: dict[str, int] = field(default_factory=dict)
    latest: dict[str, tuple[str, str, float]] = field(
        default_factory=dict
    )  # role -> (id, token, t)
    staleness: list[float] = field(default_factory=list)
    reads: dict[str, int] = field(default_factory=dict)  # node role -> searches served
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class Writer(threading.Thread):
    def __init__(
        self, ha: HaStack, role: str, seed: int, shared: Shared, pause: tuple[float, float]
    ) -> None:
        super().__init__(daemon=True, name=f"writer-{role}")
        self.ha, self.role, self.shared = ha, role, shared
        self.rng = random.Random(seed)
        self.uri = ha.uri("postgres", "read-write", connect_timeout=2)
        self.conn: psycopg.Connection | None = None
        self.profile_pause = pause

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.uri, autocommit=True)
        conn.execute(f'SET SESSION AUTHORIZATION "{self.role}"')
        conn.execute("SET statement_timeout = '20s'")
        return conn

    def write(self, kind: str, sql: str, params: tuple[Any, ...], body: str) -> Ack | None:
        """The same call with the same key until it is acknowledged (or the soak ends)."""
        key = str(uuid.uuid4())
        started = time.time()
        attempts = 0
        while True:
            attempts += 1
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self.connect()
                got = self.conn.execute(sql, (*params, key)).fetchone()[0]
            except psycopg.Error as exc:
                state = getattr(exc, "sqlstate", None)
                broken = self.conn is None or self.conn.closed or self.conn.broken
                if not (
                    state in RETRY_STATES or broken or isinstance(exc, psycopg.OperationalError)
                ):
                    self.shared.count(f"{kind}:unexpected:{state}")
                    log.error("%s: unexpected %s: %s", self.role, state, exc)
                    return None
                self.shared.count(f"{kind}:retry:{state or 'connection'}")
                if self.conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        self.conn.close()
                self.conn = None
                if self.shared.stop.is_set() and time.time() - started > 120:
                    with self.shared.lock:
                        self.shared.in_doubt.append(key)
                    return None
                time.sleep(0.05 + self.rng.random() * 0.1)
                continue
            ack = Ack(kind, self.role, str(got), body, key, started, time.time(), attempts)
            with self.shared.lock:
                self.shared.acks.append(ack)
            return ack

    def run(self) -> None:
        n = 0
        while not self.shared.stop.is_set():
            n += 1
            token = f"k{uuid.uuid4().hex[:12]}"
            r = self.rng.random()
            if r < 0.7:
                text = f"{sentence(self.rng)} [{token}]"
                ack = self.write(
                    "episode",
                    "SELECT memory.remember(%s, tags => %s::text[], idempotency_key => %s)",
                    (text, ["soak-ha"]),
                    text,
                )
                if ack is not None:
                    with self.shared.lock:
                        self.shared.latest[self.role] = (ack.id, token, ack.done)
            elif r < 0.9:
                statement = f"{sentence(self.rng)} [{token}]"
                self.write(
                    "fact",
                    "SELECT memory.learn_fact('soak-ha', %s, idempotency_key => %s)",
                    (statement,),
                    statement,
                )
            else:
                content = json.dumps({"token": token, "n": n, "slot": f"slot-{n % 5}"})
                self.write(
                    "working",
                    "SELECT memory.set_working_memory('soak', %s::jsonb, '1 hour', "
                    "key => %s, idempotency_key => %s)",
                    (content, f"slot-{n % 5}"),
                    content,
                )
            time.sleep(self.rng.uniform(*self.profile_pause))
        if self.conn is not None:
            self.conn.close()


class Reader(threading.Thread):
    """Searches a standby for the latest acknowledged episode of a writer until it shows."""

    def __init__(self, ha: HaStack, seed: int, shared: Shared) -> None:
        super().__init__(daemon=True, name=f"reader-{seed}")
        self.ha, self.shared = ha, shared
        self.rng = random.Random(seed)
        self.uri = ha.uri("postgres", "prefer-standby", connect_timeout=2)

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self.shared.stop.is_set():
            with self.shared.lock:
                pending = list(self.shared.latest.items())
            if not pending:
                time.sleep(0.1)
                continue
            role, (eid, token, acked) = self.rng.choice(pending)
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.uri, autocommit=True)
                standby = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                if not standby and self.ha.standbys():
                    # a standby promoted under this connection: find a standby again
                    conn.close()
                    conn = None
                    continue
                conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
                deadline = time.time() + 30
                while time.time() < deadline and not self.shared.stop.is_set():
                    began = time.time()
                    rows = conn.execute(
                        "SELECT episode_id::text FROM memory.search_episodic_memory(%s, 5, mode => 'text')",
                        (token,),
                    ).fetchall()
                    if any(r[0] == eid for r in rows):
                        # visible in the snapshot of a search that began at `began`
                        with self.shared.lock:
                            self.shared.staleness.append(max(0.0, began - acked))
                            node = "standby" if standby else "leader"
                            self.shared.reads[node] = self.shared.reads.get(node, 0) + 1
                        break
                    time.sleep(0.005)
                conn.execute("RESET SESSION AUTHORIZATION")
            except psycopg.Error as exc:
                self.shared.count(f"search:{getattr(exc, 'sqlstate', None) or 'connection'}")
                with contextlib.suppress(psycopg.Error):
                    if conn is not None:
                        conn.close()
                conn = None
                time.sleep(0.2)
            time.sleep(self.rng.uniform(0.05, 0.2))


class CronWatch(threading.Thread):
    """Samples, every half second, which nodes run a pg_cron launcher (children of each
    node's postmaster) and which node Patroni names leader."""

    def __init__(self, ha: HaStack, shared: Shared) -> None:
        super().__init__(daemon=True, name="cron-watch")
        self.ha, self.shared = ha, shared
        self.samples = 0
        self.overlaps: list[tuple[float, list[str]]] = []
        self.none = 0

    def launchers(self) -> list[str]:
        parents = {}
        for node in NODES:
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents[self.ha.postmaster_pid(node)] = node
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"pg_cron launcher" not in cmd:
                    continue
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid in parents:
                    found.append(parents[ppid])
        return sorted(found)

    def run(self) -> None:
        while not self.shared.stop.is_set():
            nodes = self.launchers()
            self.samples += 1
            if len(nodes) > 1:
                self.overlaps.append((time.time(), nodes))
            self.none += not nodes
            time.sleep(0.5)


class Soak:
    def __init__(self, ha: HaStack, profile: Profile, seed: int) -> None:
        self.ha, self.profile, self.seed = ha, profile, seed
        self.shared = Shared()
        self.run_id = uuid.uuid4().hex[:6]
        self.roles: list[str] = []
        self.faults: list[dict[str, Any]] = []
        self.rng = random.Random(seed)

    def prepare(self) -> None:
        with self.ha.connect_leader() as su:
            for i in range(self.profile.writers):
                name = f"SoakHa{self.run_id}w{i:02d}"
                role = f"soak_ha_{self.run_id}_w{i:02d}"
                su.execute(f'CREATE ROLE "{role}" LOGIN')
                su.execute("SELECT memory.create_agent(%s, %s)", (name, role))
                self.roles.append(role)
            su.execute(
                "CREATE TABLE IF NOT EXISTS public.soak_ha_cron_probe "
                "(port integer NOT NULL, at timestamptz NOT NULL DEFAULT now())"
            )
            su.execute("TRUNCATE public.soak_ha_cron_probe")
            su.execute(
                "SELECT cron.schedule('soak-ha-probe', '* * * * *', "
                "$$INSERT INTO public.soak_ha_cron_probe (port) VALUES (current_setting('port')::integer)$$)"
            )
        self.t_start = time.time()

    # ------------------------------------------------------------------ faults
    def fault(self, name: str) -> None:
        leader = self.ha.leader(timeout=60)
        t0 = time.time()
        entry: dict[str, Any] = {"fault": name, "leader_before": leader, "at": t0 - self.t_start}
        if name == "kill":
            self.ha.kill_postmaster(leader)
            self.wait_leader(lambda n: n != leader)
        elif name == "switchover":
            candidate = self.sync_standby() or next(n for n in NODES if n != leader)
            self.ha.switchover(candidate)
            self.wait_leader(lambda n: n == candidate)
        elif name == "etcd":
            self.ha.etcd("stop")
            time.sleep(self.profile.etcd_pause)
            self.ha.etcd("continue")
            entry["etcd_paused_s"] = self.profile.etcd_pause
        elif name == "reinit":
            replica = next(n for n in NODES if n != leader and n != self.sync_standby())
            entry["node"] = replica
            self.ha.reinit(replica)
        if name in ("kill", "switchover"):
            # how long the new leader committed without a synchronous standby
            t_lead = time.time()
            self.ha.wait_sync_standby()
            entry["alone_s"] = round(time.time() - t_lead, 1)
        self.ha.wait_healthy(timeout=240)
        entry["leader_after"] = self.ha.leader(timeout=60)
        entry["healthy_after_s"] = round(time.time() - t0, 1)
        entry["t0"] = t0
        self.faults.append(entry)
        log.info("fault %s done: %s", name, {k: v for k, v in entry.items() if k != "t0"})

    def wait_leader(self, ok: Any, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with contextlib.suppress(RuntimeError):
                if ok(self.ha.leader()):
                    return
            time.sleep(0.2)
        raise RuntimeError("the leader did not change as expected")

    def sync_standby(self) -> str | None:
        for m in self.ha.cluster()["members"]:
            if m["role"] == "sync_standby":
                return m["name"]
        return None

    def run(self) -> None:
        threads: list[threading.Thread] = [
            Writer(self.ha, role, self.seed * 100 + i, self.shared, self.profile.pause)
            for i, role in enumerate(self.roles)
        ]
        threads += [
            Reader(self.ha, self.seed * 1000 + i, self.shared) for i in range(self.profile.readers)
        ]
        self.cron = CronWatch(self.ha, self.shared)
        threads.append(self.cron)
        for t in threads:
            t.start()
        time.sleep(self.profile.settle)
        for name in self.profile.faults:
            self.fault(name)
            time.sleep(self.profile.settle)
        self.shared.stop.set()
        for t in threads:
            t.join(180)
        self.t_end = time.time()

    # ------------------------------------------------------------------ figures
    def unavailability(self) -> None:
        """Per fault: the longest gap between consecutive acknowledgements from just
        before the fault until the cluster was healthy again (plus the settle time)."""
        done = sorted(a.done for a in self.shared.acks)
        for f in self.faults:
            lo, hi = f["t0"] - 1.0, f["t0"] + f["healthy_after_s"] + self.profile.settle
            window = [t for t in done if lo <= t <= hi]
            gaps = [(b - a, a) for a, b in itertools.pairwise(window)]
            if gaps:
                gap, began = max(gaps)
                f["write_gap_s"] = round(gap, 2)
                # when, from the fault's start (the command), the writes stopped
                f["write_gap_from_s"] = round(began - f["t0"], 2)
            else:
                f["write_gap_s"] = f["write_gap_from_s"] = None

    def check(self) -> list[Check]:
        leader = self.ha.leader(timeout=60)
        checks: list[Check] = []
        with self.ha.connect(leader) as conn:
            t = time.time()
            while conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE state IN ('pending', 'processing')"
            ).fetchone()[0]:
                if time.time() - t > 900:
                    break
                time.sleep(0.5)
            self.drain_s = time.time() - t
            agents = [
                r[0]
                for r in conn.execute(
                    "SELECT agent_id FROM memory.agents WHERE db_role = ANY (%s)", (self.roles,)
                ).fetchall()
            ]
            tables = {
                "episode": (
                    "memory.episodes",
                    "episode_id",
                    "encode(content_sha256, 'hex')",
                    "content",
                ),
                "fact": (
                    "memory.facts",
                    "fact_id",
                    "encode(sha256(convert_to(statement, 'UTF8')), 'hex')",
                    "statement",
                ),
            }
            lost = wrong = 0
            acked = {k: 0 for k in (*tables, "working")}
            for kind, (table, idcol, shacol, _) in tables.items():
                rows = dict(
                    conn.execute(
                        f"SELECT {idcol}::text, {shacol} FROM {table} WHERE agent_id = ANY (%s)",
                        (agents,),
                    ).fetchall()
                )
                for a in self.shared.acks:
                    if a.kind == "working" and kind == "episode":
                        acked["working"] += 1
                    if a.kind != kind:
                        continue
                    acked[kind] += 1
                    have = rows.get(a.id)
                    lost += have is None
                    wrong += have is not None and have != sha(a.body)
            # working items: the last acknowledged write of each slot is what is stored
            wm = {
                (r[0], r[1]): r[2]
                for r in conn.execute(
                    "SELECT g.db_role, w.key, w.content::text FROM memory.working_memory AS w "
                    "JOIN memory.agents AS g USING (agent_id) WHERE w.agent_id = ANY (%s)",
                    (agents,),
                ).fetchall()
            }
            last: dict[tuple[str, str], Ack] = {}
            for a in sorted(self.shared.acks, key=lambda a: a.done):
                if a.kind == "working":
                    last[(a.role, json.loads(a.body)["slot"])] = a
            for slot, a in last.items():
                have = wm.get(slot)
                lost += have is None
                wrong += have is not None and json.loads(have) != json.loads(a.body)
            checks.append(
                Check(
                    "0 acknowledged writes lost",
                    lost == wrong == 0,
                    f"{acked['episode']} episodes and {acked['fact']} facts acknowledged; lost {lost}, "
                    f"wrong text {wrong} (episodes, facts, and the last write of each of {len(last)} "
                    f"working-memory slots after {acked['working']} writes); "
                    f"{len(self.shared.in_doubt)} calls still retrying at the end",
                )
            )
            dup_e = conn.execute(
                "SELECT count(*) FROM (SELECT content FROM memory.episodes WHERE agent_id = ANY (%s) "
                "GROUP BY content HAVING count(*) > 1) AS d",
                (agents,),
            ).fetchone()[0]
            dup_f = conn.execute(
                "SELECT count(*) FROM (SELECT statement FROM memory.facts WHERE agent_id = ANY (%s) "
                "GROUP BY statement HAVING count(*) > 1) AS d",
                (agents,),
            ).fetchone()[0]
            n_e = conn.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = ANY (%s)", (agents,)
            ).fetchone()[0]
            n_f = conn.execute(
                "SELECT count(*) FROM memory.facts WHERE agent_id = ANY (%s)", (agents,)
            ).fetchone()[0]
            retried = sum(1 for a in self.shared.acks if a.attempts > 1)
            checks.append(
                Check(
                    "0 duplicates",
                    dup_e == dup_f == 0
                    and n_e == acked["episode"] + self.doubt_rows(conn, agents, "episode")
                    and n_f == acked["fact"] + self.doubt_rows(conn, agents, "fact"),
                    f"{n_e} episodes and {n_f} facts stored for {acked['episode']} and {acked['fact']} "
                    f"acknowledged (each text unique); texts stored twice: {dup_e} episodes, {dup_f} facts; "
                    f"{retried} writes were retried after a fault",
                )
            )
            checks += embeddings(conn, "\x01never-a-poison-marker", 0)
            r = redis.Redis(
                host="127.0.0.1",
                port=self.ha.redis_port,
                password=(SECRETS / "redis_password").read_text().strip(),
                decode_responses=True,
            )
            request_reconcile(conn, 120)
            checks.append(cache_matches(conn, r))
            checks += self.cron_checks(conn)
        return checks

    def doubt_rows(self, conn: psycopg.Connection, agents: list[Any], kind: str) -> int:
        """Rows written by calls still retrying when the soak ended (in doubt: 0 or 1 each)."""
        if not self.shared.in_doubt:
            return 0
        op = "remember" if kind == "episode" else "learn_fact"
        return conn.execute(
            "SELECT count(*) FROM memory.idempotency_keys AS k "
            "WHERE k.agent_id = ANY (%s) AND k.idempotency_key = ANY (%s) AND k.operation = %s",
            (agents, self.shared.in_doubt, op),
        ).fetchone()[0]

    def cron_checks(self, conn: psycopg.Connection) -> list[Check]:
        probes = conn.execute(
            "SELECT date_trunc('minute', at), count(*), array_agg(DISTINCT port) "
            "FROM public.soak_ha_cron_probe GROUP BY 1 ORDER BY 1"
        ).fetchall()
        twice = [p for p in probes if p[1] > 1]
        runs = conn.execute(
            "SELECT j.jobname, date_trunc('minute', d.start_time) AS m, count(*) "
            "FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid) "
            "WHERE d.start_time >= to_timestamp(%s) GROUP BY 1, 2 HAVING count(*) > 1",
            (self.t_start,),
        ).fetchall()
        failed = conn.execute(
            "SELECT count(*), string_agg(DISTINCT left(d.return_message, 80), '; ') "
            "FROM cron.job_run_details AS d WHERE d.start_time >= to_timestamp(%s) AND d.status = 'failed'",
            (self.t_start,),
        ).fetchone()
        conn.execute("SELECT cron.unschedule('soak-ha-probe')")
        ports = sorted({p for row in probes for p in row[2]})
        return [
            Check(
                "pg_cron on exactly one node at a time",
                not self.cron.overlaps and not twice and not runs,
                f"{self.cron.samples} samples of the launchers: {len(self.cron.overlaps)} with two or more nodes, "
                f"{self.cron.none} with none (during failovers); probe job: {len(probes)} minutes, "
                f"{len(twice)} with two runs, ran on ports {ports}; memory-* jobs started twice in a minute: {len(runs)}; "
                f"failed runs: {failed[0]} ({failed[1] or 'none'})",
            )
        ]


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def report(soak: Soak, checks: list[Check], path: Path) -> None:
    s = soak.shared
    lat = [(a.done - a.started) * 1000 for a in s.acks if a.attempts == 1]
    lines = [
        f"# Failover soak of the HA stack ({soak.profile.name} profile)",
        "",
        "Written by `make soak-ha` (python/soak_ha). etcd 3.4 (one member), Patroni 3.0.2, three "
        "PostgreSQL 15 nodes with `synchronous_mode`, Redis and one embed daemon on the leader "
        "through `target_session_attrs=read-write`; 2 shared cores.",
        "",
        f"- run: {soak.t_end - soak.t_start:.0f} s of load, seed {soak.seed}, "
        f"{soak.profile.writers} writing clients (one agent each, idempotency keys, retry on connection errors), "
        f"{soak.profile.readers} readers on `prefer-standby`",
        f"- acknowledged: {sum(a.kind == 'episode' for a in s.acks)} episodes, "
        f"{sum(a.kind == 'fact' for a in s.acks)} facts, {sum(a.kind == 'working' for a in s.acks)} working-memory writes; "
        f"{sum(a.attempts > 1 for a in s.acks)} of them after one or more retries",
        f"- write latency without retry: p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms",
        f"- drain after the load: {soak.drain_s:.1f} s",
        "",
        "## Invariants",
        "",
        "| invariant | held | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {c.name} | {'yes' if c.ok else '**NO**'} | {c.detail} |" for c in checks]
    lines += [
        "",
        "## Faults and write unavailability",
        "",
        "Write unavailability: the longest gap between two acknowledged writes (of any of the "
        "16 clients) from 1 s before the fault until the cluster was healthy again. Targets: "
        "<= 15 s for an unplanned failover, <= 3 s for a planned switchover; the etcd pause "
        "stops writes for as long as it lasts by design (the leader cannot renew its key). "
        "A new leader commits without a synchronous standby (Patroni's synchronous_mode, not "
        "strict) from the moment this soak sees it lead until pg_stat_replication shows one "
        "(second column); Patroni promotes no other node meanwhile (the /sync key names none).",
        "",
        "| # | fault | leader before -> after | writes unavailable (s) | new leader without a sync standby (s) | healthy again after (s) |",
        "|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(soak.faults, 1):
        what = {
            "kill": "kill -9 of the leader's postmaster",
            "switchover": "planned `patronictl switchover`",
            "etcd": f"etcd frozen (SIGSTOP) for {f.get('etcd_paused_s', 0):.0f} s",
            "reinit": f"replica {f.get('node')} rebuilt (`patronictl reinit`)",
        }[f["fault"]]
        lines.append(
            f"| {i} | {what} | {f['leader_before']} -> {f['leader_after']} | {f['write_gap_s']} "
            f"| {f.get('alone_s', '')} | {f['healthy_after_s']} |"
        )
    st = s.staleness
    lines += [
        "",
        "## Reads on the standbys",
        "",
        f"Searches served: {s.reads}. Staleness seen by a search (from the writer's acknowledgement to "
        f"the start of the first text search on a standby that returned the episode, 0 when the "
        f"first one did; a reader picks a writer's latest episode at random; "
        f"{len(st)} samples): p50 {pct(st, 0.5) * 1000:.0f} ms, p95 {pct(st, 0.95) * 1000:.0f} ms, "
        f"max {max(st, default=float('nan')) * 1000:.0f} ms"
        + (f", mean {statistics.mean(st) * 1000:.0f} ms." if st else "."),
        "",
        "## Errors the clients saw (and retried)",
        "",
        ", ".join(f"{k}: {v}" for k, v in sorted(s.errors.items())) or "none",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="soak_ha")
    p.add_argument("--profile", choices=sorted(PROFILES), default="short")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--report", type=Path, default=ROOT / "reports" / "soak-ha.md")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ha = HaStack.running()
    ha.wait_healthy()
    soak = Soak(ha, PROFILES[args.profile], args.seed)
    soak.prepare()
    soak.run()
    soak.unavailability()
    checks = soak.check()
    report(soak, checks, args.report)
    for c in checks:
        log.info("%s %s: %s", "ok  " if c.ok else "FAIL", c.name, c.detail)
    for f in soak.faults:
        log.info(
            "fault %s: writes unavailable %s s, from %s s after the command (%s); "
            "new leader without a sync standby %s s",
            f["fault"],
            f["write_gap_s"],
            f["write_gap_from_s"],
            time.strftime("%H:%M:%S", time.gmtime(f["t0"])) + f"{f['t0'] % 1:.3f}"[1:],
            f.get("alone_s"),
        )
    log.info("report: %s", args.report)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
