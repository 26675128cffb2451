"""The embedding loop: LISTEN, claim, encode, complete; reconnect; stop cleanly.

Every call to the database is a short autocommit transaction; the model runs between
them, never inside one. Leases make two daemons side by side safe (SKIP LOCKED in the
claim, the lease id checked at completion) and a daemon killed mid-batch harmless
(its leases expire, or are released when a daemon of the same name starts).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from embed_daemon import __version__
from embed_daemon.config import Config, connect, describe, reconnecting
from embed_daemon.metrics import HealthState, Metrics
from embed_daemon.model import Encoder, ModelPool, ModelSpec

log = logging.getLogger(__name__)

# Versions of memory.api_version() this daemon knows how to drive.
SUPPORTED_API_VERSIONS = frozenset({1})
# The functions of the embedding queue API this daemon calls.
REQUIRED_FUNCTIONS = (
    "memory.claim_embedding_batch(text,integer,interval,integer,text[])",
    "memory.complete_embedding_batch(text,uuid[],integer[],vector[])",
    "memory.fail_embedding_batch(text,uuid[],text)",
    "memory.release_embedding_batch(text,uuid[])",
    "memory.embedding_batch_outranked(text,uuid[])",
    "memory.release_worker_leases(text)",
    "memory.extend_embedding_leases(text,uuid[],interval)",
    "memory.embedding_worker_heartbeat(text,text,text[],text,integer,text,text,jsonb)",
    "memory.embedding_queue_depth()",
    "memory.embedding_model_registry()",
    "memory.embedding_worker_sleep(text,text[])",
    "memory.embedding_worker_wake(text,text[])",
)

# a broken connection, a deadlock victim: a result is sent again on a new connection
RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.TransactionRollback)
# a daemon that could not go to sleep (writers between insert and commit) looks again
BUSY_RETRY_SECONDS = 0.05
# how often a batch being encoded asks whether a newer, more important job outranks it,
# and how long after a cut the next one may come: an agent writing important texts
# without pause could otherwise cut every batch of everyone (each cut costs a claim)
OUTRANK_CHECK_SECONDS = 0.2
OUTRANK_MIN_GAP_SECONDS = 1.0


class SchemaVersionError(RuntimeError):
    """The database runs a schema this daemon does not know: it must not touch it."""


def check_schema(conn: psycopg.Connection) -> int:
    """Raises SchemaVersionError unless the database speaks an API this daemon knows."""
    try:
        version = int(conn.execute("SELECT memory.api_version()").fetchone()[0])
    except psycopg.errors.UndefinedFunction as exc:
        raise SchemaVersionError(
            "memory.api_version() is missing: not an agent-memory database"
        ) from exc
    if version not in SUPPORTED_API_VERSIONS:
        raise SchemaVersionError(
            f"schema API version {version} is not one this daemon knows "
            f"({sorted(SUPPORTED_API_VERSIONS)}); upgrade the daemon or the schema"
        )
    if missing := [sig for sig in REQUIRED_FUNCTIONS if not _function_exists(conn, sig)]:
        raise SchemaVersionError(
            f"the embedding queue API is incomplete (missing {', '.join(missing)}); "
            "apply the migrations (scripts/db.sh)"
        )
    return version


def _function_exists(conn: psycopg.Connection, signature: str) -> bool:
    try:
        return conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,)).fetchone()[0]
    except psycopg.errors.UndefinedObject:  # a type of the signature is missing too
        return False


class ClaimedJob(NamedTuple):
    lease_id: uuid.UUID
    job_id: int
    model: str
    texts: list[str]


class QueueAPI:
    """The embedding queue functions of the SQL API, called as `worker`."""

    def __init__(self, conn: psycopg.Connection, worker: str) -> None:
        self.conn = conn
        self.worker = worker

    def call(self, sql: str, *args: object) -> list[tuple]:  # the worker's name goes first
        return self.conn.execute(sql, (self.worker, *args)).fetchall()

    def leases(self, sql: str, jobs: Sequence[ClaimedJob], *args: object) -> list[tuple]:
        return self.call(sql, [j.lease_id for j in jobs], *args)

    def registry(self) -> list[ModelSpec]:
        rows = self.conn.execute(
            "SELECT name, source, dimensions, max_tokens, is_active, is_serving "
            "FROM memory.embedding_model_registry()"
        ).fetchall()
        return [ModelSpec(*r) for r in rows]

    def release_own_leases(self) -> int:
        return self.call("SELECT memory.release_worker_leases(%s)")[0][0]

    def claim(
        self, max_items: int, lease_seconds: float, max_bytes: int, models: Sequence[str] | None
    ) -> list[ClaimedJob]:
        """The jobs claimed, in the claim's order, each with its chunks in order."""
        sql = (
            "SELECT lease_id, job_id, model, array_agg(chunk_text ORDER BY chunk_index) "
            "FROM memory.claim_embedding_batch(%s, %s, make_interval(secs => %s), %s, %s::text[]) "
            "WITH ORDINALITY AS c GROUP BY lease_id, job_id, model ORDER BY min(c.ordinality)"
        )
        rows = self.call(sql, max_items, lease_seconds, max_bytes, list(models) if models else None)
        return [ClaimedJob(*r) for r in rows]

    def complete(self, results: Sequence[tuple[ClaimedJob, np.ndarray]]) -> list[tuple]:
        """(lease_id, job_id, outcome: done or stale, seconds from enqueue to stored)."""
        chunks = [(job.lease_id, i, m[i]) for job, m in results for i in range(len(job.texts))]
        return self.call(
            "SELECT lease_id, job_id, outcome, freshness_seconds "
            "FROM memory.complete_embedding_batch(%s, %s::uuid[], %s::integer[], %b::public.vector[])",
            *([c[k] for c in chunks] for k in range(3)),
        )

    def fail(self, jobs: Sequence[ClaimedJob], error: str) -> list[tuple]:
        """(job_id, outcome: retry, dead or stale)."""
        sql = "SELECT job_id, outcome FROM memory.fail_embedding_batch(%s, %s::uuid[], %s)"
        return self.leases(sql, jobs, error)

    def release(self, jobs: Sequence[ClaimedJob]) -> int:
        return self.leases("SELECT memory.release_embedding_batch(%s, %s::uuid[])", jobs)[0][0]

    def outranked(self, jobs: Sequence[ClaimedJob]) -> bool:
        sql = "SELECT memory.embedding_batch_outranked(%s, %s::uuid[])"
        return bool(self.leases(sql, jobs)[0][0])

    def extend(self, jobs: Sequence[ClaimedJob], lease_seconds: float) -> int:
        sql = "SELECT memory.extend_embedding_leases(%s, %s::uuid[], make_interval(secs => %s))"
        return self.leases(sql, jobs, lease_seconds)[0][0]

    def heartbeat(
        self, status: str, models: Sequence[str], socket_path: Path | None, info: dict
    ) -> None:
        """This process alive: its status, models, socket, pid, host, version and counts."""
        sql = "SELECT memory.embedding_worker_heartbeat(%s, %s, %s::text[], %s, %s, %s, %s, %s)"
        where = (str(socket_path) if socket_path else None, os.getpid(), socket.gethostname())
        self.call(sql, status, list(models), *where, __version__, Jsonb(info))

    def sleep(self, models: Sequence[str]) -> str:  # asleep, busy or paused
        return self.call("SELECT memory.embedding_worker_sleep(%s, %s::text[])", list(models))[0][0]

    def wake(self, models: Sequence[str]) -> None:
        self.call("SELECT memory.embedding_worker_wake(%s, %s::text[])", list(models))

    def queue_depth(self) -> list[tuple[str, str, int, float | None]]:
        """(model, state, jobs, seconds until the earliest pending job is due)."""
        return self.conn.execute(
            "SELECT model, state, jobs, next_due_seconds FROM memory.embedding_queue_depth()"
        ).fetchall()


@dataclass
class BatchResult:  # what became of the jobs of one claim
    done: list[tuple[ClaimedJob, np.ndarray]] = field(default_factory=list)
    failed: list[tuple[ClaimedJob, str]] = field(default_factory=list)
    unfinished: list[ClaimedJob] = field(default_factory=list)


class Worker:
    def __init__(
        self,
        cfg: Config,
        pool: ModelPool,
        metrics: Metrics,
        health: HealthState,
        stop: threading.Event,
    ) -> None:
        self.cfg = cfg
        self.pool = pool
        self.metrics = metrics
        self.health = health
        self.stop = stop
        self.ready = threading.Event()
        self.chunks_done = 0
        self.jobs_done = 0
        self.delivery = Delivery(self)
        # the batch being encoded, until its result is handed to the delivery thread
        self.held: list[ClaimedJob] = []
        # encoding time per chunk and text per second (moving averages): size the slices
        # of a batch and the batches
        self._seconds_per_chunk = 0.0
        self._bytes_per_second = 0.0
        self._extended = 0.0  # when the leases of the batch were last extended
        self._checked = 0.0  # when the batch last asked whether it is outranked
        self._cut = 0.0  # when a batch was last cut for a more important job
        self._express = False  # the next claim takes one slice's worth: it was outranked
        self._connected_before = False

    def run(self) -> None:
        """Runs until stop is set. Raises SchemaVersionError for an unknown schema."""
        self.delivery.start()
        try:
            reconnecting(self.cfg, "worker", self.stop, self._session, self._disconnected)
        finally:
            self.delivery.close()

    def _disconnected(self, _exc: Exception) -> None:
        # held leases go back on the next connection (_session)
        self.health.beat(False, "database unavailable")
        self.metrics.up.set(0)

    def _session(self, conn: psycopg.Connection) -> None:
        version = check_schema(conn)
        if self._connected_before:
            self.metrics.reconnects.inc()
        self._connected_before = True
        log.info("connected as %s, schema API version %s", self.cfg.worker_name, version)
        api = QueueAPI(conn, self.cfg.worker_name)
        self._load_models(api)
        conn.execute("LISTEN memory_embed")
        self.metrics.up.set(1)
        self.health.beat(True, "connected")
        # Leases still held under this name belong to a process that is gone (an
        # earlier run), or to a claim whose answer a broken connection swallowed;
        # results being delivered are waited for first.
        self.delivery.flush()
        if self.held:
            # This process lost its connection mid-batch (a Postgres restart, say): not
            # the jobs' fault, so they go back with the claim's attempt refunded.
            log.info("gave back %s job(s) of the interrupted batch", api.release(self.held))
            self.held = []
        if released := api.release_own_leases():
            log.info("released %s job(s) leased to %s before", released, self.cfg.worker_name)
        self.ready.set()
        while not self.stop.is_set():
            self.health.beat(True, "draining")
            self._drain(api)
            if self.stop.is_set():
                break
            self._wait(conn, api)

    def _load_models(self, api: QueueAPI) -> None:
        self.pool.update_registry(api.registry())
        for spec in self.pool.specs():
            if (spec.is_active or spec.is_serving) and spec.name in self.models():
                # the first inference pays one-off costs
                self.pool.encoder(spec.name).encode(["warm up"])

    def models(self) -> list[str]:
        return [m for m in self.pool.servable() if self.cfg.models is None or m in self.cfg.models]

    def _wait(self, conn: psycopg.Connection, api: QueueAPI) -> None:
        """Sleeps after the queue came back empty, until a notification, the next retry
        falling due, or the poll interval.

        Writers notify only while a daemon sleeps (a notifying commit serialises with
        every other): this daemon first advertises that it sleeps (the models' wake-up
        locks, memory.embedding_worker_sleep, which waits for writers between their
        insert and their commit), then looks at the queue once more, and lets go of the
        locks as soon as it wakes (docs/DEVELOPING.md, "Waking the embed daemon").
        """
        models = self.models()
        state = api.sleep(models) if models else "paused"
        if state == "busy":
            # writers still in flight (or a transaction left open after an insert):
            # their jobs are looked for again shortly
            self._listen(conn, BUSY_RETRY_SECONDS)
            return
        try:
            timeout = self.cfg.poll_seconds
            for model, st, _, due in api.queue_depth():
                if st != "pending" or due is None or model not in models:
                    continue
                if due <= 0 and state == "asleep":
                    return  # committed before the lock was taken: work, not sleep
                if due > 0:
                    timeout = min(timeout, max(due, 0.05))
            self._listen(conn, timeout)
        finally:
            if state == "asleep":
                api.wake(models)

    def _listen(self, conn: psycopg.Connection, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            self.health.beat(True, "idle")
            if list(conn.notifies(timeout=min(0.5, remaining), stop_after=1)):
                list(conn.notifies(timeout=0))  # the rest of the backlog
                return

    def _drain(self, api: QueueAPI) -> None:
        c = self.cfg
        while not self.stop.is_set():
            if not (models := self.models()):
                return
            jobs = api.claim(c.batch_jobs, c.lease_seconds, self._batch_bytes(), models)
            self.health.beat(True, "draining")
            if not jobs:
                return
            self.held, started = jobs, time.monotonic()
            self.delivery.submit(self._process(api, jobs), started, jobs[0].model)
            self.held = []
        self.delivery.flush()

    def _process(self, api: QueueAPI, jobs: list[ClaimedJob]) -> BatchResult:
        result = BatchResult()
        for model in dict.fromkeys(j.model for j in jobs):
            model_jobs = [j for j in jobs if j.model == model]
            try:
                enc = self.pool.encoder(model)
            except Exception as exc:
                log.error("cannot load model %s: %s", model, describe(exc))
                result.failed.extend((j, f"cannot load model: {describe(exc)}") for j in model_jobs)
                continue
            t0 = time.monotonic()
            windowed = enc.windowed_texts
            self._encode_jobs(api, enc, model_jobs, result)
            self.metrics.encode_seconds.labels(model).observe(time.monotonic() - t0)
            self.metrics.windowed.inc(enc.windowed_texts - windowed)
        return result

    def _batch_bytes(self) -> int:
        """A claim's budget of text: about batch_seconds of encoding, at most batch_bytes.

        The claim is fair across agents, so a new job of another agent waits for at
        most the batch being encoded: bounding a batch's time bounds that wait.
        """
        c = self.cfg
        seconds = c.interactive_batch_seconds if self._interactive() else c.batch_seconds
        if self._express:  # after an outranked batch: the important job, one slice's worth
            seconds, self._express = c.encode_slice_seconds, False
        return _fit(self._bytes_per_second * seconds, c.batch_bytes, 16384)

    def _slice_size(self) -> int:
        """Chunks per encode call: about encode_slice_seconds of work, 1..encode_batch_size
        (interactive_slice_seconds while queries are coming)."""
        c, per_chunk = self.cfg, self._seconds_per_chunk
        seconds = c.interactive_slice_seconds if self._interactive() else c.encode_slice_seconds
        return _fit(seconds / per_chunk if per_chunk > 0 else 0, c.encode_batch_size, 4)

    def _interactive(self) -> bool:
        """A query was embedded in the last interactive_seconds: a query waits for the
        slice being encoded and a new job of another agent for the claim, so both are
        smaller while queries come; without queries, bigger ones keep the throughput."""
        return time.monotonic() - self.pool.gate.last_query < self.cfg.interactive_seconds

    def _encode_jobs(
        self, api: QueueAPI, enc: Encoder, jobs: list[ClaimedJob], result: BatchResult
    ) -> None:
        """All chunks of the jobs, longest first, in sub-batches; a failure isolates jobs."""
        items = sorted(
            ((ji, ci, text) for ji, job in enumerate(jobs) for ci, text in enumerate(job.texts)),
            key=lambda it: -len(it[2]),
        )
        matrices = [np.empty((len(j.texts), enc.spec.dimensions), dtype=np.float32) for j in jobs]
        left = [len(j.texts) for j in jobs]
        self._extended = self._checked = time.monotonic()
        start = 0
        one_by_one = False
        try:
            while start < len(items) and not self.stop.is_set():
                # Slices of about encode_slice_seconds (at most encode_batch_size chunks):
                # a query embedding waits for the slice being encoded, never for the
                # batch (the inference gate lets a waiting query go next).
                part = items[start : start + self._slice_size()]
                t0 = time.monotonic()
                vecs = enc.encode([t for _, _, t in part])
                took = max(time.monotonic() - t0, 1e-6)
                self._seconds_per_chunk = 0.7 * self._seconds_per_chunk + 0.3 * took / len(part)
                rate = sum(len(t) for _, _, t in part) / took
                old = self._bytes_per_second
                self._bytes_per_second = rate if old <= 0 else 0.7 * old + 0.3 * rate
                start += len(part)
                for (ji, ci, _), v in zip(part, vecs, strict=True):
                    matrices[ji][ci] = v
                    left[ji] -= 1
                self.health.beat(True, "encoding")
                self._keep_leases(api, jobs)
                if start < len(items) and self._outranked(api, jobs):
                    # a newer job more important than all of this batch: complete what
                    # is done, release the rest, and claim it now (a small claim)
                    self._express = True
                    break
        except psycopg.Error:  # the database, not the model: the session starts over
            raise
        except Exception as exc:
            if len(jobs) == 1:
                result.failed.append((jobs[0], describe(exc)))
                return
            log.warning(
                "a batch of %s jobs failed (%s); retrying job by job", len(jobs), describe(exc)
            )
            one_by_one = True
        for ji, job in enumerate(jobs):
            if left[ji] == 0:
                result.done.append((job, matrices[ji]))
            elif self.stop.is_set() or not one_by_one:
                result.unfinished.append(job)
            else:
                try:
                    result.done.append((job, enc.encode(job.texts)))
                except Exception as job_exc:
                    result.failed.append((job, describe(job_exc)))
                # One by one takes far longer than the batch: the leases are kept alive
                # here too, or the reaper takes the jobs back and each expiry costs an
                # attempt (found by the soak: healthy jobs went dead beside a poisoned one).
                self._keep_leases(api, jobs)

    def _outranked(self, api: QueueAPI, jobs: list[ClaimedJob]) -> bool:
        """Every OUTRANK_CHECK_SECONDS of a batch, and OUTRANK_MIN_GAP_SECONDS after the last
        cut: memory.embedding_batch_outranked."""
        now = time.monotonic()
        if now - self._checked < OUTRANK_CHECK_SECONDS or now - self._cut < OUTRANK_MIN_GAP_SECONDS:
            return False
        self._checked = now
        if api.outranked(jobs):
            self._cut = now
        return self._cut == now

    def _keep_leases(self, api: QueueAPI, jobs: list[ClaimedJob]) -> None:
        if time.monotonic() - self._extended > self.cfg.lease_seconds / 3:
            api.extend(jobs, self.cfg.lease_seconds)
            self._extended = time.monotonic()


def _fit(measured: float, most: int, first: int) -> int:
    """What the measured speed fits, 1..most; `first` (at most `most`) until a slice is timed."""
    return max(1, min(most, int(measured))) if measured > 0 else min(first, most)


class _SideThread(threading.Thread):
    """A thread of the worker on a connection of its own, opened when first needed and
    dropped after an error (the next call opens another)."""

    def __init__(self, worker: Worker, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.worker = worker
        self.cfg = worker.cfg
        self.metrics = worker.metrics
        self._conn: psycopg.Connection | None = None

    def api(self) -> QueueAPI:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.cfg, self.name)
        return QueueAPI(self._conn, self.cfg.worker_name)

    def drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Delivery(_SideThread):
    """Hands batch results to the database on a connection of its own, so that the
    model encodes the next batch while the previous one is stored (its HNSW inserts
    run in the server meanwhile). One result waits at most; order is kept."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(worker, "delivery")
        self._queue: queue.Queue[tuple[BatchResult, float, str] | None] = queue.Queue(maxsize=1)

    def submit(self, result: BatchResult, started: float, model: str) -> None:
        self._queue.put((result, started, model))

    def flush(self) -> None:  # until every result is delivered (or given up at shutdown)
        self._queue.join()

    def close(self) -> None:
        if self.is_alive():
            self._queue.put(None)
            self.join()
        self.drop()

    def run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver_until_done(*item)
            except Exception:
                log.exception(
                    "a batch result was not delivered: its leases expire, the jobs are redone"
                )
            finally:
                self._queue.task_done()

    def _deliver_until_done(self, result: BatchResult, started: float, model: str) -> None:
        delay = 0.5
        for attempt in itertools.count(1):
            try:
                return self._deliver(self.api(), result, started, model)
            except RETRYABLE as exc:  # the same result again, on a new connection
                self.drop()
                if self.worker.stop.is_set() and attempt >= 3:
                    # the leases expire and the jobs are done again: nothing is lost
                    log.warning("stopping: gave up delivering a batch (%s)", describe(exc))
                    return
                log.warning(
                    "delivering a batch failed (%s); retrying in %.1fs", describe(exc), delay
                )
                time.sleep(delay)
                delay = min(delay * 2, self.cfg.reconnect_max_seconds)

    def _deliver(self, api: QueueAPI, result: BatchResult, started: float, model: str) -> None:
        # Each step clears what it delivered: a retry after a broken connection
        # sends only the rest.
        if result.done:
            self._complete(api, result.done)
            result.done = []
        for job, error in result.failed:
            for job_id, outcome in api.fail([job], error):
                if outcome == "dead":
                    self.metrics.dead.labels(job.model).inc()
                    log.error("job %s is dead: %s", job_id, error)
                elif outcome == "retry":
                    self.metrics.retries.labels(job.model).inc()
                    log.warning("job %s failed, will retry: %s", job_id, error)
        result.failed = []
        if result.unfinished:
            log.info("released %s unfinished job(s)", api.release(result.unfinished))
            result.unfinished = []
        self.metrics.latency.labels(model).observe(time.monotonic() - started)

    def _complete(self, api: QueueAPI, done: Sequence[tuple[ClaimedJob, np.ndarray]]) -> None:
        try:
            outcomes = api.complete(done)
        except RETRYABLE:
            raise
        except psycopg.Error as exc:
            # The database refused the result (a bug, e.g. a wrong dimension): fail
            # the jobs so that they retry and end dead instead of looping.
            log.error("the database refused a batch result: %s", describe(exc))
            api.fail([j for j, _ in done], f"result refused: {describe(exc)}")
            return
        jobs = {j.lease_id: j for j, _ in done}
        for lease_id, _, outcome, freshness in outcomes:
            job = jobs[lease_id]
            if outcome == "done":
                self.worker.jobs_done += 1
                self.worker.chunks_done += len(job.texts)
                self.metrics.jobs_done.labels(job.model).inc()
                self.metrics.processed.labels(job.model).inc(len(job.texts))
                if freshness is not None:
                    self.metrics.freshness.labels(job.model).observe(freshness)
            else:
                self.metrics.stale.inc()
                log.info(
                    "result for job %s discarded: its lease is gone or its text changed", job.job_id
                )


class Heartbeat(_SideThread):
    """Reports the daemon alive, refreshes the model registry and the queue gauges."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(worker, "heartbeat")
        self._seen: set[tuple[str, str]] = set()

    def beat(self, status: str) -> None:  # best effort: the next beat opens a new connection
        try:
            api = self.api()
            self.worker.pool.update_registry(api.registry())
            counts = {"jobs_done": self.worker.jobs_done, "chunks_done": self.worker.chunks_done}
            api.heartbeat(status, self.worker.models(), self.cfg.socket_path, counts)
            depth = {(model, state): jobs for model, state, jobs, _ in api.queue_depth()}
        except (psycopg.Error, OSError) as exc:
            log.debug("heartbeat failed: %s", describe(exc))
            self.drop()
            return
        self._seen |= depth.keys()
        for key in self._seen:  # a state seen before and now empty reads 0
            self.metrics.queue_depth.labels(*key).set(depth.get(key, 0))

    def run(self) -> None:
        while not self.worker.ready.is_set():  # the worker checks the schema first
            if self.worker.stop.wait(0.2):
                return
        while True:
            self.beat("running")
            if self.worker.stop.wait(self.cfg.heartbeat_seconds):
                break

    def final(self) -> None:  # a last heartbeat saying the daemon stopped
        self.beat("stopped")
        self.drop()
