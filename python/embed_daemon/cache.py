"""The Redis cache warmer: keeps Redis in step with working memory and core blocks.

PostgreSQL is the truth and decides what to write: its triggers record what changed
(memory.take_cache_changes hands the changes out), and memory.cache_diff_working_memory
and cache_diff_blocks compare what Redis holds with the tables and return the repairs.
This thread only reads and writes Redis, on a connection of its own (LISTEN memory_cache),
and never blocks the embedding worker: a Redis error is logged, counted and retried with
backoff, and when Redis is back one reconciliation restores every live key. Channel,
payloads and keys: sql/functions/150-cache.sql and README.md, "Redis cache".
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
import redis
from prometheus_client import Counter, Gauge

from embed_daemon.config import Config
from embed_daemon.db import WorkerAPI, connect

log = logging.getLogger(__name__)

CHANNEL = "memory_cache"
PAGE = 500  # keys per diff, changes per take
POLL_RECONCILE_SECONDS = 30.0  # looks for a reconciliation request whose notice was missed
T = TypeVar("T")


def wm_key(agent_id: str, working_id: str) -> str:
    return f"mem:{agent_id}:wm:{working_id}"


def ctx_key(agent_id: str, context_type: str) -> str:
    return f"mem:{agent_id}:wmctx:{context_type}"


def blocks_key(agent_id: str) -> str:
    return f"mem:{agent_id}:blocks"


def redis_client(cfg: Config) -> redis.Redis:
    password = cfg.redis_password_file.read_text().strip() if cfg.redis_password_file else None
    return redis.Redis.from_url(
        str(cfg.redis_url),
        password=password,
        decode_responses=True,
        socket_timeout=3,
        socket_connect_timeout=3,
        retry_on_timeout=False,
    )


class CacheMetrics:
    """The warmer's metrics, in the daemon's registry."""

    def __init__(self, registry: object) -> None:
        r = registry
        self.events = Counter(
            "cache_events_applied", "Cache notifications applied to Redis", ["kind"], registry=r
        )
        self.redis_errors = Counter(
            "cache_redis_errors", "Redis errors of the cache warmer", registry=r
        )
        self.repairs = Counter(
            "cache_reconcile_repairs", "Keys repaired by reconciliations", ["kind"], registry=r
        )
        self.reconciliations = Counter(
            "cache_reconciliations", "Reconciliations run", ["outcome"], registry=r
        )
        self.connected = Gauge(
            "cache_redis_connected", "1 while the cache warmer reaches Redis", registry=r
        )
        self.lag = Gauge(
            "cache_sync_lag_seconds", "Commit to Redis of the last applied change", registry=r
        )


@dataclass
class RepairCounts:
    """Keys checked and repaired, in the order memory.finish_cache_reconcile takes them."""

    checked: int = 0
    missing: int = 0
    stale: int = 0
    extra: int = 0
    expired: int = 0

    def add(self, repair: str) -> None:
        """Counts one repair of memory.cache_diff_*: a TTL off counts as stale."""
        kind = "stale" if repair == "ttl" else repair
        if kind != "ok":
            setattr(self, kind, getattr(self, kind) + 1)

    @property
    def repaired(self) -> int:
        return self.missing + self.stale + self.extra + self.expired


class CacheAPI(WorkerAPI):
    """The cache worker functions of the SQL API."""

    def working_memory_page(self, after: str | None) -> list[tuple[str, str]]:
        """(agent_id, working_id) of the live items after working_id `after`."""
        return self.conn.execute(
            "SELECT agent_id::text, working_id::text "
            "FROM memory.cache_working_memory_page(%s::uuid, %s)",
            (after, PAGE),
        ).fetchall()

    def block_agents_page(self, after: str | None) -> list[str]:
        rows = self.conn.execute(
            "SELECT agent_id::text FROM memory.cache_block_agents_page(%s::uuid, %s)",
            (after, PAGE),
        ).fetchall()
        return [r[0] for r in rows]

    def diff_working_memory(
        self, keys: list[tuple[str, str]], read: tuple[list, list, list] | None
    ) -> list[tuple]:
        """What to repair; read: the values' sha256, PTTLs and cached context types."""
        sha, pttl, ctx = read if read is not None else (None, None, None)
        return self.conn.execute(
            "SELECT working_id::text, agent_id::text, repair, payload, ttl_ms, context_type, "
            "unindex_context, updated_at FROM memory.cache_diff_working_memory("
            "%s::uuid[], %s::uuid[], %s::bytea[], %s::bigint[], %s::text[])",
            ([a for a, _ in keys], [w for _, w in keys], sha, pttl, ctx),
        ).fetchall()

    def diff_blocks(self, agents: list[str], sha: list[bytes | None] | None) -> list[tuple]:
        return self.conn.execute(
            "SELECT agent_id::text, repair, blocks FROM memory.cache_diff_blocks("
            "%s::uuid[], %s::bytea[])",
            (agents, sha),
        ).fetchall()

    def take_changes(self) -> list[tuple[str, str | None]]:
        """(agent_id, working_id) of changed items, (agent_id, None) of changed block sets."""
        return self.conn.execute(
            "SELECT agent_id::text, working_id::text FROM memory.take_cache_changes(%s, %s)",
            (self.worker, PAGE),
        ).fetchall()

    def claim_reconcile(self) -> int | None:
        """The id of an open reconciliation request, now this worker's; None when none."""
        return self.scalar("SELECT memory.claim_cache_reconcile(%s)")

    def finish_reconcile(
        self, request_id: int | None, started: datetime, counts: RepairCounts, error: str | None
    ) -> None:
        self.scalar(
            "SELECT memory.finish_cache_reconcile(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            request_id,
            started,
            *astuple(counts),
            error,
        )

    def heartbeat(
        self, connected: bool, events: int, errors: int, lag: float | None, last_error: str | None
    ) -> None:
        self.scalar(
            "SELECT memory.cache_warmer_heartbeat(%s, %s, %s, %s, %s, %s)",
            connected,
            events,
            errors,
            lag,
            last_error,
        )


class Warmer:
    """Applies changes and reconciliations to Redis. Redis errors propagate to the caller."""

    def __init__(self, api: CacheAPI, r: redis.Redis, metrics: CacheMetrics) -> None:
        self.api = api
        self.r = r
        self.metrics = metrics
        self.last_lag: float | None = None

    def apply(self, changes: list[tuple[str, str | None]]) -> int:
        """Brings the keys of the changed items and block sets in step (the reconciliation's
        diff, for these keys only): SET with the remaining TTL, DEL of deleted and expired
        items, each changed blocks hash rewritten in one MULTI."""
        items = [(agent, working) for agent, working in changes if working is not None]
        agents = [agent for agent, working in changes if working is None]
        if items:
            rows = self._repair_working_memory(items, RepairCounts(), compare=True)
            updated = [r[7] for r in rows if r[7] is not None]
            if updated:
                self.last_lag = max(0.0, time.time() - max(updated).timestamp())
                self.metrics.lag.set(self.last_lag)
            self.metrics.events.labels("working_memory").inc(len(items))
        if agents:
            self._repair_blocks(agents, RepairCounts(), compare=True)
            self.metrics.events.labels("blocks").inc(len(agents))
        return len(changes)

    def reconcile(self) -> RepairCounts:
        """Reads Redis page by page (key ranges of Postgres, then SCAN), asks Postgres
        what differs (memory.cache_diff_working_memory, cache_diff_blocks) and repairs it."""
        c = RepairCounts()
        after: str | None = None
        while keys := self.api.working_memory_page(after):
            after = keys[-1][1]
            c.checked += len(keys)
            self._repair_working_memory(keys, c, compare=True)
        for keys in _chunks(_scan(self.r, "mem:*:wm:*", 4), PAGE):
            self._repair_working_memory(keys, c, compare=False)
        self._clean_context_sets()
        after = None
        while agents := self.api.block_agents_page(after):
            after = agents[-1]
            c.checked += len(agents)
            self._repair_blocks(agents, c, compare=True)
        for keys in _chunks(_scan(self.r, "mem:*:blocks", 3), PAGE):
            self._repair_blocks([agent for agent, _ in keys], c, compare=False)
        return c

    def _repair_working_memory(
        self, keys: list[tuple[str, str]], c: RepairCounts, compare: bool
    ) -> list[tuple]:
        """keys: (agent_id, working_id); compare reads the values and TTLs, else the keys
        are known to exist in Redis (SCAN) and only extra and expired ones are repaired."""
        read = None
        if compare:
            pipe = self.r.pipeline(transaction=False)
            for agent, working in keys:
                pipe.get(wm_key(agent, working))
                pipe.pttl(wm_key(agent, working))
            got = pipe.execute()
            values = got[0::2]
            read = ([_sha256(v) for v in values], got[1::2], [_context_of(v) for v in values])
        rows = self.api.diff_working_memory(keys, read)
        fix = self.r.pipeline(transaction=False)
        for working, agent, repair, payload, ttl_ms, ctx, unindex, _ in rows:
            key = wm_key(agent, working)
            if repair in ("missing", "stale"):
                fix.set(key, payload, px=ttl_ms)
            elif repair == "ttl":
                fix.pexpire(key, ttl_ms)
            elif repair in ("extra", "expired"):
                fix.delete(key)
            if unindex is not None:
                fix.srem(ctx_key(agent, unindex), working)
            if ctx is not None:
                # the context type's set lives as long as its longest item
                fix.sadd(ctx_key(agent, ctx), working)
                fix.pexpire(ctx_key(agent, ctx), ttl_ms, nx=True)
                fix.pexpire(ctx_key(agent, ctx), ttl_ms, gt=True)
            c.add(repair)
        fix.execute()
        return rows

    def _repair_blocks(self, agents: list[str], c: RepairCounts, compare: bool) -> None:
        read = None
        if compare:
            pipe = self.r.pipeline(transaction=False)
            for a in agents:
                pipe.hgetall(blocks_key(a))
            read = [_blocks_sha256(h) for h in pipe.execute()]
        fix = self.r.pipeline(transaction=True)
        for agent, repair, blocks in self.api.diff_blocks(agents, read):
            fix.delete(blocks_key(agent))
            if blocks:
                fix.hset(blocks_key(agent), mapping=blocks)
            c.add(repair)
        fix.execute()

    def _clean_context_sets(self) -> None:
        """Drops set members whose item key is gone (Redis expiry leaves them behind)."""
        for key in self.r.scan_iter(match="mem:*:wmctx:*", count=PAGE):
            agent = key.split(":")[1]
            for members in _chunks(self.r.sscan_iter(key, count=PAGE), PAGE):
                pipe = self.r.pipeline(transaction=False)
                for m in members:
                    pipe.exists(wm_key(agent, m))
                gone = [m for m, e in zip(members, pipe.execute(), strict=True) if not e]
                if gone:
                    self.r.srem(key, *gone)


def _context_of(value: str | None) -> str | None:
    if not value:
        return None
    try:
        ctx = json.loads(value).get("context_type")
    except (ValueError, AttributeError):
        return None
    return ctx if isinstance(ctx, str) else None


def _sha256(value: str | None) -> bytes | None:
    return None if value is None else hashlib.sha256(value.encode()).digest()


def _blocks_sha256(fields: dict[str, str]) -> bytes | None:
    """The stamp of a blocks hash that memory.cache_diff_blocks compares (label order)."""
    if not fields:
        return None
    h = hashlib.sha256()
    for label in sorted(fields):
        h.update(label.encode() + b"\0" + fields[label].encode() + b"\0")
    return h.digest()


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _scan(r: redis.Redis, pattern: str, parts: int) -> Iterable[tuple[str, str | None]]:
    """(agent_id, working_id or None) of the keys matching pattern that hold valid uuids."""
    for key in r.scan_iter(match=pattern, count=PAGE):
        p = key.split(":")
        agent = _uuid(p[1]) if len(p) == parts else None
        item = _uuid(p[3]) if agent and parts == 4 else None
        if agent and (item or parts == 3):
            yield agent, item


def _chunks(it: Iterable[T], n: int) -> Iterable[list[T]]:
    buf: list[T] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


class CacheWarmer(threading.Thread):
    """The warmer thread: LISTEN, apply, reconcile, heartbeat; never raises.

    What is still to do lives in PostgreSQL (memory.cache_changes, the open reconciliation
    requests): while Redis is away nothing is taken, and three flags say what to look for.
    """

    def __init__(self, cfg: Config, metrics: CacheMetrics, stop: threading.Event) -> None:
        super().__init__(name="cache-warmer", daemon=True)
        self.cfg = cfg
        self.metrics = metrics
        self.stop_event = stop
        self.changes = True  # take the recorded changes
        self.reconcile = True  # a reconciliation is due (one at start)
        self.poll = False  # look for an open request (its notification may have been missed)
        self.redis_ok = False
        self.events = 0
        self.errors = 0
        self.last_error: str | None = None
        self.reconciliations = 0

    def run(self) -> None:
        pg_backoff = 0.5
        while not self.stop_event.is_set():
            try:
                with connect(self.cfg, "cache") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    pg_backoff = 0.5
                    self._loop(conn)
            except psycopg.Error as exc:
                log.warning("cache warmer: PostgreSQL error (%s); reconnecting", exc)
                self.reconcile = True  # notifications may have been missed
            except Exception:  # the warmer must never take the daemon down
                log.exception("cache warmer: unexpected error; restarting the loop")
            if self.stop_event.wait(pg_backoff):
                return
            pg_backoff = min(pg_backoff * 2, self.cfg.reconnect_max_seconds)

    def _loop(self, conn: psycopg.Connection) -> None:
        api = CacheAPI(conn, self.cfg.worker_name)
        warmer = Warmer(api, redis_client(self.cfg), self.metrics)
        backoff = 0.5
        next_try = next_beat = 0.0
        next_poll = time.monotonic() + POLL_RECONCILE_SECONDS
        while not self.stop_event.is_set():
            for n in conn.notifies(timeout=0.5, stop_after=1000):
                if n.payload == "changes":
                    self.changes = True
                elif n.payload.split(":")[0] == "c":
                    self.reconcile = True
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + POLL_RECONCILE_SECONDS
                self.poll = True
            if (self.changes or self.reconcile or self.poll) and now >= next_try:
                try:
                    self._flush(api, warmer)
                    backoff = 0.5
                    self._set_redis(True)
                except redis.RedisError as exc:
                    self._redis_failed(exc)
                    next_try = time.monotonic() + backoff
                    backoff = min(backoff * 2, self.cfg.reconnect_max_seconds)
            if now >= next_beat:
                next_beat = now + self.cfg.heartbeat_seconds
                self.changes = True  # a notification may have been missed
                if self.redis_ok:
                    # Changes may be taken by another daemon's warmer (one Redis per
                    # stack): a quiet warmer still notices an outage by this probe.
                    try:
                        warmer.r.ping()
                    except redis.RedisError as exc:
                        self._redis_failed(exc)
                api.heartbeat(
                    self.redis_ok, self.events, self.errors, warmer.last_lag, self.last_error
                )

    def _flush(self, api: CacheAPI, warmer: Warmer) -> None:
        if not self.redis_ok:
            warmer.r.ping()  # fail fast while Redis is away
        while self.changes:
            taken = api.take_changes()
            self.events += warmer.apply(taken)
            self.changes = len(taken) >= PAGE
        # a reconciliation when one is due here, or (poll) when a request is open
        if not (self.reconcile or self.poll):
            return
        request = api.claim_reconcile()
        self.poll = False
        if request is None and not self.reconcile:
            return
        started = datetime.now(UTC)
        try:
            counts = warmer.reconcile()
        except redis.RedisError as exc:
            api.finish_reconcile(request, started, RepairCounts(), f"redis: {exc}"[:2000])
            self.metrics.reconciliations.labels("failed").inc()
            raise
        api.finish_reconcile(request, started, counts, None)
        self.reconcile = False
        self.reconciliations += 1
        self.metrics.reconciliations.labels("ok").inc()
        for kind in ("missing", "stale", "extra", "expired"):
            self.metrics.repairs.labels(kind).inc(getattr(counts, kind))
        log.info("cache reconciled: %s", counts)

    def _set_redis(self, ok: bool) -> None:
        if ok and not self.redis_ok:
            log.info("cache warmer: Redis reachable")
        self.redis_ok = ok
        self.metrics.connected.set(1 if ok else 0)

    def _redis_failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = str(exc)[:500]
        if self.redis_ok:
            log.warning("cache warmer: Redis unreachable (%s); writes go on, retrying", exc)
        else:
            log.debug("cache warmer: Redis still unreachable (%s)", exc)
        self._set_redis(False)
        self.metrics.redis_errors.inc()
        # Redis may come back empty (and changes taken may be lost): one reconciliation
        # rebuilds it from PostgreSQL
        self.reconcile = True


def start_cache_warmer(cfg: Config, registry: object, stop: threading.Event) -> CacheWarmer | None:
    """Starts the warmer thread when MEMORY_REDIS_URL is set; never raises."""
    if cfg.redis_url is None:
        log.info("MEMORY_REDIS_URL is not set: no Redis cache warming")
        return None
    try:
        warmer = CacheWarmer(cfg, CacheMetrics(registry), stop)
        warmer.start()
        log.info("cache warmer started (LISTEN %s)", CHANNEL)
        return warmer
    except Exception:
        log.exception("the cache warmer could not start; embedding goes on without it")
        return None
