"""The soak's clients: writers, searchers and context builders, one process each.

Every client keeps a ledger of what the database acknowledged (the call returned and the
transaction committed) and of what is in doubt (the connection broke during the call:
it may or may not have happened). The invariants hold the database to the acknowledged
part only, and to "one of the possible outcomes" for the part in doubt.
Each process writes its ledger and its latency samples to a JSON file at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

log = logging.getLogger("soak.client")

# Errors that mean "the server went away" (a restart or a crash), not a wrong answer.
FAULT_STATES = {"57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"}

SUBJECTS_EN = ["NEXUS", "ARIA", "the operator", "the build bot", "the reviewer", "the scheduler"]
VERBS_EN = ["reviewed", "deployed", "rolled back", "benchmarked", "documented", "debugged"]
OBJECTS_EN = [
    "the billing service",
    "the vector index",
    "the nightly backup",
    "the login page",
    "the cache warmer",
    "the search ranking",
    "the invoice export",
    "the staging cluster",
]
DETAILS_EN = [
    "after a latency spike",
    "before the release",
    "because a customer complained",
    "while the queue was full",
    "with help from the on-call engineer",
]
SENTENCES_ES = [
    "La agente revisó la copia de seguridad nocturna antes del despliegue.",
    "El servicio de facturación falló durante la migración de la base de datos.",
    "Hablamos con el cliente sobre la exportación de facturas pendientes.",
    "La memoria de trabajo se llenó mientras la cola de embeddings crecía.",
    "El índice vectorial tardó demasiado en reconstruirse tras el reinicio.",
]
QUERIES = [
    "billing service failure",
    "vector index rebuild",
    "what happened with the nightly backup",
    "latency spike before the release",
    "copia de seguridad nocturna",
    "fallo del servicio de facturación",
    "who deployed the login page",
    "cache warmer queue full",
]


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return rng.choice(SENTENCES_ES)
    return (
        f"{rng.choice(SUBJECTS_EN)} {rng.choice(VERBS_EN)} {rng.choice(OBJECTS_EN)} "
        f"{rng.choice(DETAILS_EN)}."
    )


def episode_text(rng: random.Random, poison: str | None = None) -> str:
    """A unique text: one to three sentences, one in ten a long multi-chunk one."""
    n = rng.randint(40, 80) if rng.random() < 0.1 else rng.randint(1, 3)
    words = [sentence(rng) for _ in range(n)]
    words.append(f"(soak note {uuid.uuid4().hex[:12]})")
    if poison:
        words.insert(rng.randrange(len(words)), poison)
    return " ".join(words)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Ledger:
    """What one client saw. Keys are ids (text); values are JSON-able."""

    episodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    working: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[tuple[str, float, float, bool]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    degraded_searches: int = 0
    shared_rows_seen: int = 0


class Client:
    """One process: a loop of operations against one agent until the deadline."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.role: str = spec["role"]
        self.kind: str = spec["kind"]
        self.conninfo: str = spec["conninfo"]
        self.t0: float = spec["t0"]
        self.deadline: float = spec["deadline"]
        self.poison: str = spec["poison_marker"]
        self.poison_rate: float = spec.get("poison_rate", 0.0)
        self.pause: tuple[float, float] = tuple(spec.get("pause", (0.05, 0.15)))  # type: ignore[assignment]
        self.rng = random.Random(spec["seed"])
        self.ledger = Ledger()
        self.conn: psycopg.Connection | None = None

    # ------------------------------------------------------------------ plumbing
    def connect(self) -> psycopg.Connection:
        delay = 0.1
        while True:
            try:
                conn = psycopg.connect(self.conninfo, autocommit=True)
                conn.execute(f'SET SESSION AUTHORIZATION "{self.role}"')
                conn.add_notice_handler(self._notice)
                return conn
            except psycopg.OperationalError:
                if time.time() > self.deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary and "vector search unavailable" in diag.message_primary:
            self.ledger.degraded_searches += 1

    def call(self, op: str, fn: Callable[[psycopg.Connection], Any]) -> tuple[str, Any]:
        """Runs fn; returns ('ok', value), ('fault', None) (in doubt) or ('error', sqlstate)."""
        if self.conn is None or self.conn.closed:
            self.conn = self.connect()
        start = time.perf_counter()
        try:
            value = fn(self.conn)
        except psycopg.Error as exc:
            state = getattr(exc, "sqlstate", None)
            broken = self.conn.closed or self.conn.broken
            if state in FAULT_STATES or broken:
                self.ledger.errors[f"{op}:fault"] = self.ledger.errors.get(f"{op}:fault", 0) + 1
                with contextlib.suppress(psycopg.Error):
                    self.conn.close()
                self.conn = None
                return "fault", None
            self.ledger.errors[f"{op}:{state}"] = self.ledger.errors.get(f"{op}:{state}", 0) + 1
            self.ledger.unexpected.append(f"{op}: {state} {type(exc).__name__}")
            return "error", state
        ms = (time.perf_counter() - start) * 1000.0
        self.ledger.samples.append((op, round(time.time() - self.t0, 3), round(ms, 3), True))
        return "ok", value

    def run(self) -> Ledger:
        step = getattr(self, f"step_{self.kind}")
        while time.time() < self.deadline:
            try:
                step()
            except psycopg.OperationalError:
                self.conn = None  # could not even reconnect before the deadline
            time.sleep(self.rng.uniform(*self.pause))
        if self.conn is not None:
            self.conn.close()
        return self.ledger

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Callable[[psycopg.Connection], Any]:
        def fn(conn: psycopg.Connection) -> Any:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

        return fn

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Callable[[psycopg.Connection], Any]:
        return lambda conn: conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ episodes
    def live_episode(self) -> str | None:
        live = [k for k, v in self.ledger.episodes.items() if v["state"] == "live"]
        return self.rng.choice(live) if live else None

    def step_episodes(self) -> None:
        r = self.rng.random()
        target = self.live_episode()
        if r < 0.65 or target is None:
            poisoned = self.rng.random() < self.poison_rate
            text = episode_text(self.rng, self.poison if poisoned else None)
            tags = self.rng.sample(["ops", "billing", "search", "backup", "es"], 2)
            outcome, eid = self.call(
                "remember",
                self.one(
                    "SELECT memory.remember(%s, importance => %s::real, tags => %s::text[])",
                    (text, round(self.rng.random(), 2), tags),
                ),
            )
            if outcome == "ok":
                self.ledger.episodes[str(eid)] = {
                    "state": "live",
                    "sha": [sha(text)],
                    "poison": poisoned,
                }
        elif r < 0.88:
            poisoned = self.rng.random() < self.poison_rate
            text = episode_text(self.rng, self.poison if poisoned else None)
            outcome, _ = self.call(
                "update_episode",
                self.one("SELECT memory.update_episode(%s, content => %s)", (target, text)),
            )
            entry = self.ledger.episodes[target]
            if outcome == "ok":
                entry.update(sha=[sha(text)], poison=poisoned)
            elif outcome == "fault":
                entry.update(state="doubt", sha=[*entry["sha"], sha(text)])
                entry["poison"] = entry["poison"] or poisoned
        else:
            outcome, _ = self.call(
                "forget_episode", self.one("SELECT memory.forget_episode(%s)", (target,))
            )
            entry = self.ledger.episodes[target]
            entry["state"] = {"ok": "forgotten", "fault": "doubt"}.get(outcome, entry["state"])

    # ------------------------------------------------------------------ facts
    def step_facts(self) -> None:
        r = self.rng.random()
        open_facts = [k for k, v in self.ledger.facts.items() if v["state"] == "open"]
        concept = self.rng.choice(["billing", "backups", "search", "on-call", "releases"])
        statement = f"{sentence(self.rng)} (fact {uuid.uuid4().hex[:10]})"
        if r < 0.55 or not open_facts:
            outcome, fid = self.call(
                "learn_fact",
                self.one(
                    "SELECT memory.learn_fact(%s, %s, confidence => %s::real)",
                    (concept, statement, round(self.rng.uniform(0.3, 1.0), 2)),
                ),
            )
            if outcome == "ok":
                self.ledger.facts[str(fid)] = {"state": "open", "sha": sha(statement)}
        elif r < 0.85:
            old = self.rng.choice(open_facts)
            outcome, fid = self.call(
                "supersede_fact",
                self.one(
                    "SELECT memory.learn_fact(%s, %s, supersedes => %s::uuid[])",
                    (concept, statement, [old]),
                ),
            )
            if outcome == "ok":
                self.ledger.facts[str(fid)] = {"state": "open", "sha": sha(statement)}
                self.ledger.facts[old]["state"] = "closed"
            elif outcome == "fault":
                self.ledger.facts[old]["state"] = "doubt"
        else:
            old = self.rng.choice(open_facts)
            outcome, _ = self.call(
                "invalidate_fact", self.one("SELECT memory.invalidate_fact(%s)", (old,))
            )
            if outcome in ("ok", "fault"):
                self.ledger.facts[old]["state"] = "closed" if outcome == "ok" else "doubt"

    # ------------------------------------------------------------------ working memory
    def step_working(self) -> None:
        r = self.rng.random()
        if r < 0.1:
            # a core block the agent owns: the cache keeps a hash of them
            label = self.rng.choice(["focus", "mood"])
            value = f"{sentence(self.rng)} ({uuid.uuid4().hex[:8]})"
            outcome, _ = self.call(
                "set_block", self.one("SELECT memory.set_block(%s, %s)", (label, value))
            )
            if outcome in ("ok", "fault"):
                prev = self.ledger.blocks.get(label, {"values": []})
                values = [value] if outcome == "ok" else [*prev["values"], value]
                self.ledger.blocks[label] = {"values": values}
            return
        if r < 0.15:
            outcome, _ = self.call(
                "clear_working_memory",
                self.one("SELECT memory.clear_working_memory(%s)", ("scratch",)),
            )
            for entry in self.ledger.working.values():
                if entry["context_type"] == "scratch" and entry["state"] == "live":
                    entry["state"] = {"ok": "cleared", "fault": "doubt"}.get(outcome, "live")
            return
        context = self.rng.choice(["task", "scratch", "plan"])
        key = f"k{self.rng.randrange(40)}"
        short = self.rng.random() < 0.3
        ttl = f"{self.rng.randint(2, 6)} seconds" if short else "2 hours"
        content = {"note": sentence(self.rng), "n": self.rng.randrange(10**6)}
        outcome, wid = self.call(
            "set_working_memory",
            self.one(
                "SELECT memory.set_working_memory(%s, %s, %s::interval, %s, %s)",
                (context, Jsonb(content), ttl, self.rng.choice(["high", "normal", "low"]), key),
            ),
        )
        slot = f"{context}/{key}"
        prev = self.ledger.working.get(slot)
        if outcome == "ok":
            self.ledger.working[slot] = {
                "state": "expiring" if short else "live",
                "context_type": context,
                "key": key,
                "content": [content],
                "working_id": str(wid),
            }
        elif outcome == "fault":
            contents = [content, *(prev["content"] if prev else [])]
            self.ledger.working[slot] = {
                "state": "doubt",
                "context_type": context,
                "key": key,
                "content": contents,
                "working_id": prev["working_id"] if prev else None,
            }

    # ------------------------------------------------------------------ readers
    def step_search(self) -> None:
        q = self.rng.choice(QUERIES)
        r = self.rng.random()
        if r < 0.05:
            # share the tag "ops" with the other agent, or revoke it
            verb = self.rng.choice(["share", "unshare"])
            self.call(
                verb, self.one(f"SELECT memory.{verb}('tag', %s, 'ops')", (self.spec["other"],))
            )
        elif r < 0.30:
            # through include_shared: only its own episodes and the other's "ops" ones,
            # each marked with its owner (tags and owner from the same snapshot)
            outcome, rows = self.call(
                "search_shared",
                self.rows(
                    "SELECT owner, tags FROM memory.search_episodic_memory(%s, 10, include_shared => true)",
                    (q,),
                ),
            )
            for owner, tags in rows if outcome == "ok" else []:
                self.ledger.shared_rows_seen += owner != self.spec["name"]
                if owner != self.spec["name"] and (
                    owner != self.spec["other"] or "ops" not in tags
                ):
                    self.ledger.unexpected.append(
                        f"search_shared: an episode of {owner} tagged {tags}"
                    )
        elif r < 0.75:
            self.call(
                "search_episodic",
                self.rows("SELECT episode_id FROM memory.search_episodic_memory(%s, 10)", (q,)),
            )
        else:
            self.call(
                "search_semantic",
                self.rows("SELECT fact_id FROM memory.search_semantic_memory(%s, 10)", (q,)),
            )

    def step_context(self) -> None:
        q = self.rng.choice(QUERIES)
        self.call(
            "build_context",
            self.one("SELECT memory.build_context(%s, %s)", (q, self.rng.choice([500, 2000]))),
        )


def run_client(spec: dict[str, Any]) -> None:
    """Entry point of a client process: runs until the deadline, then writes its ledger."""
    logging.basicConfig(level=logging.WARNING)
    ledger = Client(spec).run()
    Path(spec["out"]).write_text(json.dumps(ledger.__dict__))
