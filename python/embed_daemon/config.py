"""Configuration of the embed daemon, from the environment (no secrets in code)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable has a value the daemon cannot use."""


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return int(_float(env, name, default, low, high))


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if env.get(name) else None


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
    metrics_port: int
    poll_seconds: float
    batch_jobs: int
    batch_bytes: int
    batch_seconds: float
    encode_batch_size: int
    encode_slice_seconds: float
    interactive_seconds: float
    interactive_slice_seconds: float
    interactive_batch_seconds: float
    lease_seconds: float
    heartbeat_seconds: float
    reconnect_max_seconds: float
    models: tuple[str, ...] | None
    password_file: Path | None
    redis_url: str | None
    redis_password_file: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        socket_raw = env.get("MEMORY_EMBED_SOCKET", "")
        models_raw = env.get("MEMORY_EMBED_MODELS", "").strip()
        return cls(
            worker_name=env.get("MEMORY_WORKER_NAME") or f"{socket.gethostname()}-{os.getpid()}",
            socket_path=Path(socket_raw).resolve() if socket_raw else None,
            metrics_host=env.get("MEMORY_METRICS_HOST", "127.0.0.1"),
            metrics_port=_int(env, "MEMORY_METRICS_PORT", 0, 0, 65535),
            poll_seconds=_float(env, "MEMORY_POLL_SECONDS", 5.0, 0.05, 3600.0),
            batch_jobs=_int(env, "MEMORY_BATCH_JOBS", 512, 1, 10000),
            batch_bytes=_int(env, "MEMORY_BATCH_BYTES", 262144, 1, 1 << 30),
            batch_seconds=_float(env, "MEMORY_BATCH_SECONDS", 2.0, 0.05, 3600.0),
            encode_batch_size=_int(env, "MEMORY_ENCODE_BATCH_SIZE", 32, 1, 4096),
            encode_slice_seconds=_float(env, "MEMORY_ENCODE_SLICE_SECONDS", 0.25, 0.01, 60.0),
            # for this long after a query embedding, smaller slices and claims
            interactive_seconds=_float(env, "MEMORY_INTERACTIVE_SECONDS", 10.0, 0.0, 3600.0),
            interactive_slice_seconds=_float(
                env, "MEMORY_INTERACTIVE_SLICE_SECONDS", 0.08, 0.01, 60.0
            ),
            interactive_batch_seconds=_float(
                env, "MEMORY_INTERACTIVE_BATCH_SECONDS", 1.0, 0.05, 3600.0
            ),
            lease_seconds=_float(env, "MEMORY_LEASE_SECONDS", 60.0, 1.0, 3600.0),
            heartbeat_seconds=_float(env, "MEMORY_HEARTBEAT_SECONDS", 5.0, 0.1, 600.0),
            reconnect_max_seconds=_float(env, "MEMORY_RECONNECT_MAX_SECONDS", 10.0, 0.1, 600.0),
            models=tuple(m.strip() for m in models_raw.split(",") if m.strip()) or None,
            password_file=_path(env, "MEMORY_PG_PASSWORD_FILE"),
            redis_url=env.get("MEMORY_REDIS_URL") or None,
            redis_password_file=_path(env, "MEMORY_REDIS_PASSWORD_FILE"),
        )
