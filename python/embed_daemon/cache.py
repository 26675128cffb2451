"""The Redis cache warmer: keeps Redis in step with working memory and core blocks.

PostgreSQL is the truth and decides what to write: its triggers record what changed
(memory.take_cache_changes hands the changes out, with their Redis keys), and
memory.cache_diff_working_memory and cache_diff_blocks compare what Redis holds with the
tables and return the Redis commands that repair it. This thread only reads Redis, passes
what it read to those functions and runs the commands they return, on a connection of
its own (LISTEN memory_cache); it builds no key and no value. It never blocks the
embedding worker: a Redis error is logged, counted and retried with backoff, and when
Redis is back one reconciliation restores every live key. Channel, payloads and keys:
sql/functions/150-cache.sql and README.md, "Redis cache".
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import psycopg
import redis

from embed_daemon.config import Config, reconnecting, redis_client
from embed_daemon.metrics import CacheMetrics

log = logging.getLogger(__name__)

CHANNEL = "memory_cache"
PAGE = 500  # keys per diff, changes per take
POLL_RECONCILE_SECONDS = 30.0  # looks for a reconciliation request whose notice was missed
# the repairs of memory.cache_diff_*, as memory.finish_cache_reconcile counts them
REPAIRS = ("missing", "stale", "extra", "expired")
# the cache functions of the SQL API (sql/functions/150-cache.sql) the warmer calls
TAKE_CHANGES = "SELECT key, working_id IS NULL FROM memory.take_cache_changes(%s, %s)"
WM_PAGE = "SELECT working_id, key FROM memory.cache_working_memory_page(%s::uuid, %s)"
BLOCKS_PAGE = "SELECT agent_id, key FROM memory.cache_block_agents_page(%s::uuid, %s)"
DIFF_WM = (
    "SELECT repair, commands, updated_at FROM memory.cache_diff_working_memory("
    "%s::text[], %s::bytea[], %s::bigint[], %s::text[])"
)
DIFF_BLOCKS = "SELECT repair, commands FROM memory.cache_diff_blocks(%s::text[], %s::bytea[])"
CLAIM_RECONCILE = "SELECT memory.claim_cache_reconcile(%s)"
FINISH_RECONCILE = "SELECT memory.finish_cache_reconcile(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
HEARTBEAT = "SELECT memory.cache_warmer_heartbeat(%s, %s, %s, %s, %s, %s)"


class CacheWarmer(threading.Thread):
    """The warmer thread; never raises. What is still to do lives in PostgreSQL
    (memory.cache_changes, the open reconciliation requests): while Redis is away nothing
    is taken, and three flags say what to look for."""

    conn: psycopg.Connection
    r: redis.Redis

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
        self.last_lag: float | None = None
        self.reconciliations = 0

    def call(self, sql: str, *args: object) -> list[tuple]:
        return self.conn.execute(sql, args).fetchall()

    def run(self) -> None:
        reconnecting(self.cfg, "cache", self.stop_event, self._loop, self._disconnected, Exception)

    def _disconnected(self, exc: Exception) -> None:
        # the warmer must never take the daemon down: any error restarts the loop
        if isinstance(exc, psycopg.Error):
            self.reconcile = True  # notifications may have been missed

    def _loop(self, conn: psycopg.Connection) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        self.conn, self.r = conn, redis_client(self.cfg)
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
                    self._flush()
                    backoff = 0.5
                    if not self.redis_ok:
                        log.info("cache warmer: Redis reachable")
                    self.redis_ok = True
                    self.metrics.connected.set(1)
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
                        self.r.ping()
                    except redis.RedisError as exc:
                        self._redis_failed(exc)
                state = (self.redis_ok, self.events, self.errors, self.last_lag, self.last_error)
                self.call(HEARTBEAT, self.cfg.worker_name, *state)

    def _flush(self) -> None:
        if not self.redis_ok:
            self.r.ping()  # fail fast while Redis is away
        while self.changes:
            taken = self.apply_changes()
            self.events += taken
            self.changes = taken >= PAGE
        # a reconciliation when one is due here, or (poll) when a request is open
        if not (self.reconcile or self.poll):
            return
        [(request,)] = self.call(CLAIM_RECONCILE, self.cfg.worker_name)
        self.poll = False
        if request is None and not self.reconcile:
            return
        started = datetime.now(UTC)
        try:
            c = self.reconcile_all()
        except redis.RedisError as exc:
            error = f"redis: {exc}"[:2000]
            self.call(
                FINISH_RECONCILE, self.cfg.worker_name, request, started, 0, 0, 0, 0, 0, error
            )
            self.metrics.reconciliations.labels("failed").inc()
            raise
        counts = [c["checked"], *(c[kind] for kind in REPAIRS)]
        self.call(FINISH_RECONCILE, self.cfg.worker_name, request, started, *counts, None)
        self.reconcile = False
        self.reconciliations += 1
        self.metrics.reconciliations.labels("ok").inc()
        for kind in REPAIRS:
            self.metrics.repairs.labels(kind).inc(c[kind])
        log.info("cache reconciled: %s", ", ".join(f"{k}={c[k]}" for k in ("checked", *REPAIRS)))

    def _redis_failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = str(exc)[:500]
        if self.redis_ok:
            log.warning("cache warmer: Redis unreachable (%s); writes go on, retrying", exc)
        else:
            log.debug("cache warmer: Redis still unreachable (%s)", exc)
        self.redis_ok = False
        self.metrics.connected.set(0)
        self.metrics.redis_errors.inc()
        # Redis may come back empty (and changes taken may be lost): one reconciliation
        # rebuilds it from PostgreSQL
        self.reconcile = True

    def apply_changes(self) -> int:
        """Takes a page of changes (the key of an item or of an agent's blocks hash) and
        brings their keys in step (the reconciliation's diff, for these keys only).
        Returns how many were taken."""
        changes = self.call(TAKE_CHANGES, self.cfg.worker_name, PAGE)
        items = [key for key, blocks in changes if not blocks]
        hashes = [key for key, blocks in changes if blocks]
        if items:
            rows = self._repair_working_memory(items, Counter(), compare=True)
            updated = [u for _, _, u in rows if u is not None]
            if updated:
                self.last_lag = max(0.0, time.time() - max(updated).timestamp())
                self.metrics.lag.set(self.last_lag)
            self.metrics.events.labels("working_memory").inc(len(items))
        if hashes:
            self._repair_blocks(hashes, Counter(), compare=True)
            self.metrics.events.labels("blocks").inc(len(hashes))
        return len(changes)

    def reconcile_all(self) -> Counter[str]:
        """Reads Redis page by page (key ranges of Postgres, then SCAN), asks Postgres
        what differs (memory.cache_diff_working_memory, cache_diff_blocks) and repairs it;
        returns the keys checked and repaired by kind."""
        c: Counter[str] = Counter()
        for page, pattern, repair in (
            (WM_PAGE, "mem:*:wm:*", self._repair_working_memory),
            (BLOCKS_PAGE, "mem:*:blocks", self._repair_blocks),
        ):
            for keys in self._sql_pages(page):
                c["checked"] += len(keys)
                repair(keys, c, compare=True)
            for keys in _pages(self.r.scan_iter(match=pattern, count=PAGE)):
                repair(keys, c, compare=False)
        self._clean_context_sets()
        return c

    def _repair_working_memory(self, keys: list[str], c: Counter[str], compare: bool) -> list:
        """compare reads the values (their sha256 and cached context type) and TTLs, else
        the keys are known to exist in Redis (SCAN) and only extra and expired ones are
        repaired. Returns the diff's rows (repair, commands, updated_at)."""
        sha = pttl = ctx = None
        if compare:
            values, pttl = self._read(keys, "get", "pttl")
            sha, ctx = [_sha256(v) for v in values], [_context_of(v) for v in values]
        return self._run(self.call(DIFF_WM, keys, sha, pttl, ctx), c, transaction=False)

    def _repair_blocks(self, keys: list[str], c: Counter[str], compare: bool) -> None:
        sha = [_blocks_sha256(h) for h in self._read(keys, "hgetall")[0]] if compare else None
        # one MULTI: a reader never sees a hash half rewritten
        self._run(self.call(DIFF_BLOCKS, keys, sha), c, transaction=True)

    def _read(self, keys: list[str], *commands: str) -> list[list]:
        """The replies to each read command for every key, one pipeline: a list per command."""
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            for command in commands:
                getattr(pipe, command)(key)
        got = pipe.execute()
        return [got[i :: len(commands)] for i in range(len(commands))]

    def _run(self, rows: list[tuple], c: Counter[str], transaction: bool) -> list[tuple]:
        """Runs the commands of a diff's rows in one pipeline and counts the repairs (a
        TTL off counts as stale)."""
        pipe = self.r.pipeline(transaction=transaction)
        for repair, commands, *_ in rows:
            for command in commands:
                pipe.execute_command(*command)
            c["stale" if repair == "ttl" else repair] += 1
        pipe.execute()
        return rows

    def _sql_pages(self, sql: str) -> Iterator[list[str]]:
        """The keys of a page function of the SQL API, page by page (a key range)."""
        after = None
        while rows := self.call(sql, after, PAGE):
            after = rows[-1][0]
            yield [key for _, key in rows]

    def _clean_context_sets(self) -> None:
        """Drops set members whose item key is gone (Redis expiry leaves them behind): the
        item keys of mem:<agent>:wmctx:<type> are mem:<agent>:wm:<member>."""
        for key in self.r.scan_iter(match="mem:*:wmctx:*", count=PAGE):
            prefix = key.split(":wmctx:")[0] + ":wm:"
            for members in _pages(self.r.sscan_iter(key, count=PAGE)):
                [exists] = self._read([prefix + m for m in members], "exists")
                gone = [m for m, e in zip(members, exists, strict=True) if not e]
                if gone:
                    self.r.srem(key, *gone)


def _context_of(value: str | None) -> str | None:
    try:
        ctx = json.loads(value).get("context_type") if value else None
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


def _pages(it: Iterable) -> Iterator[list]:
    it = iter(it)
    while page := list(itertools.islice(it, PAGE)):
        yield page
