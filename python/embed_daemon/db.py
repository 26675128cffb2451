"""The daemon's side of the SQL API: connections and calls to the queue functions.

The daemon holds no business logic and runs no SQL beyond these function calls; every
call is its own short transaction (autocommit), so no transaction is ever open while
the model runs.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from embed_daemon import __version__
from embed_daemon.config import Config

log = logging.getLogger(__name__)

# Versions of memory.api_version() this daemon knows how to drive.
SUPPORTED_API_VERSIONS = frozenset({1})
# The functions of the embedding queue API this daemon calls.
REQUIRED_FUNCTIONS = (
    "memory.claim_embedding_batch(text,integer,interval,integer,text[])",
    "memory.complete_embedding_batch(text,uuid[],integer[],vector[])",
    "memory.fail_embedding_batch(text,uuid[],text)",
    "memory.release_embedding_batch(text,uuid[])",
    "memory.release_worker_leases(text)",
    "memory.extend_embedding_leases(text,uuid[],interval)",
    "memory.embedding_worker_heartbeat(text,text,text[],text,integer,text,text,jsonb)",
    "memory.embedding_queue_depth()",
    "memory.embedding_model_registry()",
    "memory.embedding_worker_sleep(text,text[])",
    "memory.embedding_worker_wake(text,text[])",
)


class SchemaVersionError(RuntimeError):
    """The database runs a schema this daemon does not know: it must not touch it."""


class VectorBinaryDumper(Dumper):
    """numpy float arrays as pgvector's binary format (dimensions, unused, float4 BE)."""

    format = Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        arr = np.asarray(obj, dtype=">f4")
        if arr.ndim != 1:
            raise ValueError("a vector must be one-dimensional")
        return struct.pack(">HH", arr.shape[0], 0) + arr.tobytes()


def connect(cfg: Config, purpose: str) -> psycopg.Connection:
    """An autocommit connection from the libpq environment, with vectors adapted."""
    kwargs: dict[str, str] = {}
    if cfg.password_file is not None:
        kwargs["password"] = cfg.password_file.read_text().strip()
    conn = psycopg.connect(
        autocommit=True,
        application_name=f"embed_daemon:{purpose}",
        connect_timeout=10,
        **kwargs,
    )
    info = TypeInfo.fetch(conn, "public.vector")
    if info is not None:
        info.register(conn)
        dumper = type("VectorDumper", (VectorBinaryDumper,), {"oid": info.oid})
        conn.adapters.register_dumper(np.ndarray, dumper)
    return conn


def check_schema(conn: psycopg.Connection) -> int:
    """Raises SchemaVersionError unless the database speaks an API this daemon knows."""
    try:
        row = conn.execute("SELECT memory.api_version()").fetchone()
    except psycopg.errors.UndefinedFunction as exc:
        raise SchemaVersionError(
            "memory.api_version() is missing: not an agent-memory database"
        ) from exc
    version = int(row[0]) if row else -1
    if version not in SUPPORTED_API_VERSIONS:
        raise SchemaVersionError(
            f"schema API version {version} is not one this daemon knows "
            f"({sorted(SUPPORTED_API_VERSIONS)}); upgrade the daemon or the schema"
        )
    missing = [sig for sig in REQUIRED_FUNCTIONS if not _function_exists(conn, sig)]
    if missing:
        raise SchemaVersionError(
            f"the embedding queue API is incomplete (missing {', '.join(missing)}); "
            "apply the migrations (scripts/db.sh)"
        )
    return version


def _function_exists(conn: psycopg.Connection, signature: str) -> bool:
    try:
        row = conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,)).fetchone()
    except psycopg.errors.UndefinedObject:  # a type of the signature is missing too
        return False
    return bool(row and row[0])


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    dimensions: int
    max_tokens: int
    is_active: bool
    is_serving: bool


@dataclass
class ClaimedJob:
    lease_id: uuid.UUID
    job_id: int
    model: str
    texts: list[str]


@dataclass(frozen=True)
class Outcome:
    lease_id: uuid.UUID
    job_id: int | None
    outcome: str  # done | stale (complete); retry | dead | stale (fail)
    freshness_seconds: float | None = None


class WorkerAPI:
    """Calls of worker functions of the SQL API as `worker`, over one autocommit connection."""

    def __init__(self, conn: psycopg.Connection, worker: str) -> None:
        self.conn = conn
        self.worker = worker

    def scalar(self, sql: str, *args: object) -> Any:
        """The value of a one-value SELECT whose first parameter is the worker's name."""
        row = self.conn.execute(sql, (self.worker, *args)).fetchone()
        return row[0] if row else None


class QueueAPI(WorkerAPI):
    """The embedding queue functions."""

    def registry(self) -> list[ModelSpec]:
        rows = self.conn.execute(
            "SELECT name, source, dimensions, max_tokens, is_active, is_serving "
            "FROM memory.embedding_model_registry()"
        ).fetchall()
        return [ModelSpec(*r) for r in rows]

    def release_own_leases(self) -> int:
        return self.scalar("SELECT memory.release_worker_leases(%s)")

    def claim(
        self, max_items: int, lease_seconds: float, max_bytes: int, models: Sequence[str] | None
    ) -> list[ClaimedJob]:
        rows = self.conn.execute(
            "SELECT lease_id, job_id, model, chunk_index, chunk_text "
            "FROM memory.claim_embedding_batch(%s, %s, make_interval(secs => %s), %s, %s::text[])",
            (self.worker, max_items, lease_seconds, max_bytes, list(models) if models else None),
        ).fetchall()
        jobs: dict[uuid.UUID, ClaimedJob] = {}
        for lease_id, job_id, model, index, text in rows:
            job = jobs.setdefault(lease_id, ClaimedJob(lease_id, job_id, model, []))
            if index != len(job.texts):
                raise RuntimeError(f"chunks of job {job_id} arrived out of order")
            job.texts.append(text)
        return list(jobs.values())

    def complete(self, results: Sequence[tuple[ClaimedJob, np.ndarray]]) -> list[Outcome]:
        lease_ids: list[uuid.UUID] = []
        indexes: list[int] = []
        vectors: list[np.ndarray] = []
        for job, matrix in results:
            for i in range(len(job.texts)):
                lease_ids.append(job.lease_id)
                indexes.append(i)
                vectors.append(matrix[i])
        rows = self.conn.execute(
            "SELECT lease_id, job_id, outcome, freshness_seconds "
            "FROM memory.complete_embedding_batch(%s, %s::uuid[], %s::integer[], %b::public.vector[])",
            (self.worker, lease_ids, indexes, vectors),
        ).fetchall()
        return [Outcome(*r) for r in rows]

    def fail(self, jobs: Sequence[ClaimedJob], error: str) -> list[Outcome]:
        rows = self.conn.execute(
            "SELECT lease_id, job_id, outcome FROM memory.fail_embedding_batch(%s, %s::uuid[], %s)",
            (self.worker, [j.lease_id for j in jobs], error),
        ).fetchall()
        return [Outcome(*r) for r in rows]

    def release(self, jobs: Sequence[ClaimedJob]) -> int:
        leases = [j.lease_id for j in jobs]
        return self.scalar("SELECT memory.release_embedding_batch(%s, %s::uuid[])", leases)

    def extend(self, jobs: Sequence[ClaimedJob], lease_seconds: float) -> int:
        return self.scalar(
            "SELECT memory.extend_embedding_leases(%s, %s::uuid[], make_interval(secs => %s))",
            [j.lease_id for j in jobs],
            lease_seconds,
        )

    def heartbeat(
        self, status: str, models: Sequence[str], socket_path: Path | None, info: dict
    ) -> None:
        """This process alive: its status, models, socket, pid, host, version and counts."""
        self.conn.execute(
            "SELECT memory.embedding_worker_heartbeat(%s, %s, %s::text[], %s, %s, %s, %s, %s)",
            (
                self.worker,
                status,
                list(models),
                str(socket_path) if socket_path else None,
                os.getpid(),
                socket.gethostname(),
                __version__,
                Jsonb(info),
            ),
        )

    def sleep(self, models: Sequence[str]) -> str:
        """asleep, busy or paused (memory.embedding_worker_sleep)."""
        return self.scalar("SELECT memory.embedding_worker_sleep(%s, %s::text[])", list(models))

    def wake(self, models: Sequence[str]) -> None:
        self.scalar("SELECT memory.embedding_worker_wake(%s, %s::text[])", list(models))

    def queue_depth(self) -> list[tuple[str, str, int, float | None]]:
        """(model, state, jobs, seconds until the earliest pending job is due)."""
        return self.conn.execute(
            "SELECT model, state, jobs, next_due_seconds FROM memory.embedding_queue_depth()"
        ).fetchall()
