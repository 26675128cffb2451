"""Configuration of the embed daemon, from the environment (no secrets in code), and the
connections it describes: PostgreSQL (autocommit, vectors adapted) and Redis."""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import redis
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """An environment variable has a value the daemon cannot use."""


def _number(name: str, default: float, low: float, high: float) -> Any:
    """A field read from the variable `name`: a number in [low, high], an int when the
    default is one."""
    return field(metadata={"env": (name, default, low, high)})


def _read(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return int(value) if isinstance(default, int) else value


@dataclass(frozen=True)
class Config:
    """Everything the daemon reads from its environment.

    Connection settings come from libpq's own variables (PGHOST, PGPORT, PGDATABASE,
    PGUSER, PGPASSFILE); MEMORY_PG_PASSWORD_FILE is read when set (Docker secrets), as
    MEMORY_REDIS_PASSWORD_FILE is for the Redis of MEMORY_REDIS_URL (no cache without it).
    """

    worker_name: str
    socket_path: Path | None
    metrics_host: str
    models: tuple[str, ...] | None
    password_file: Path | None
    redis_url: str | None
    redis_password_file: Path | None
    metrics_port: int = _number("MEMORY_METRICS_PORT", 0, 0, 65535)
    poll_seconds: float = _number("MEMORY_POLL_SECONDS", 5.0, 0.05, 3600.0)
    batch_jobs: int = _number("MEMORY_BATCH_JOBS", 512, 1, 10000)
    batch_bytes: int = _number("MEMORY_BATCH_BYTES", 262144, 1, 1 << 30)
    batch_seconds: float = _number("MEMORY_BATCH_SECONDS", 2.0, 0.05, 3600.0)
    encode_batch_size: int = _number("MEMORY_ENCODE_BATCH_SIZE", 32, 1, 4096)
    encode_slice_seconds: float = _number("MEMORY_ENCODE_SLICE_SECONDS", 0.25, 0.01, 60.0)
    # for this long after a query embedding, smaller slices and claims
    interactive_seconds: float = _number("MEMORY_INTERACTIVE_SECONDS", 10.0, 0.0, 3600.0)
    interactive_slice_seconds: float = _number("MEMORY_INTERACTIVE_SLICE_SECONDS", 0.08, 0.01, 60.0)
    interactive_batch_seconds: float = _number(
        "MEMORY_INTERACTIVE_BATCH_SECONDS", 1.0, 0.05, 3600.0
    )
    lease_seconds: float = _number("MEMORY_LEASE_SECONDS", 60.0, 1.0, 3600.0)
    heartbeat_seconds: float = _number("MEMORY_HEARTBEAT_SECONDS", 5.0, 0.1, 600.0)
    reconnect_max_seconds: float = _number("MEMORY_RECONNECT_MAX_SECONDS", 10.0, 0.1, 600.0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        sock = env.get("MEMORY_EMBED_SOCKET", "")
        models = env.get("MEMORY_EMBED_MODELS", "").split(",")
        return cls(
            worker_name=env.get("MEMORY_WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}",
            socket_path=Path(sock).resolve() if sock else None,
            metrics_host=env.get("MEMORY_METRICS_HOST", "127.0.0.1"),
            models=tuple(m.strip() for m in models if m.strip()) or None,
            password_file=_path(env, "MEMORY_PG_PASSWORD_FILE"),
            redis_url=env.get("MEMORY_REDIS_URL") or None,
            redis_password_file=_path(env, "MEMORY_REDIS_PASSWORD_FILE"),
            **{f.name: _read(env, *f.metadata["env"]) for f in fields(cls) if f.metadata},
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if env.get(name) else None


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
    kwargs = {"password": cfg.password_file.read_text().strip()} if cfg.password_file else {}
    conn = psycopg.connect(
        autocommit=True, application_name=f"embed_daemon:{purpose}", connect_timeout=10, **kwargs
    )
    info = TypeInfo.fetch(conn, "public.vector")
    if info is not None:
        info.register(conn)
        dumper = type("VectorDumper", (VectorBinaryDumper,), {"oid": info.oid})
        conn.adapters.register_dumper(np.ndarray, dumper)
    return conn


def redis_client(cfg: Config) -> redis.Redis:
    """The cache's Redis (MEMORY_REDIS_URL), short timeouts: the warmer retries itself."""
    password = cfg.redis_password_file.read_text().strip() if cfg.redis_password_file else None
    return redis.Redis.from_url(
        str(cfg.redis_url),
        password=password,
        decode_responses=True,
        socket_timeout=3,
        socket_connect_timeout=3,
        retry_on_timeout=False,
    )


def reconnecting(
    cfg: Config,
    purpose: str,
    stop: threading.Event,
    session: Callable[[psycopg.Connection], None],
    on_error: Callable[[Exception], None],
    catch: type[Exception] = psycopg.Error,
) -> None:
    """Runs session on a connection of its own until stop is set. After an error of type
    catch (unreachable, a lost connection, a deadlock victim, a statement cancelled by an
    operator), on_error, then a new connection after a wait that doubles from 0.5 s to
    reconnect_max_seconds (back to 0.5 s once connected)."""
    delay = 0.5
    while not stop.is_set():
        try:
            with connect(cfg, purpose) as conn:
                delay = 0.5
                session(conn)
        except catch as exc:
            on_error(exc)
            unexpected = not isinstance(exc, psycopg.Error)  # with its traceback
            log.warning(
                "%s: %s; reconnecting in %.1fs", purpose, describe(exc), delay, exc_info=unexpected
            )
            stop.wait(delay)
            delay = min(delay * 2, cfg.reconnect_max_seconds)


def describe(exc: BaseException) -> str:
    """An error for a log line or the database (its type and message, at most 500 chars)."""
    return f"{type(exc).__name__}: {exc}"[:500]
