"""Entry point: ``python -m embed_daemon``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

import psycopg

from embed_daemon import __version__

log = logging.getLogger("embed_daemon")

# API versions of the schema this daemon knows how to drive (memory.api_version()).
SUPPORTED_API_VERSIONS = frozenset({1})


class SchemaVersionError(RuntimeError):
    """The database runs a schema version this daemon does not know."""


def check_schema(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT memory.api_version()").fetchone()
    version = int(row[0]) if row else -1
    if version not in SUPPORTED_API_VERSIONS:
        raise SchemaVersionError(
            f"schema API version {version} is not one this daemon knows "
            f"({sorted(SUPPORTED_API_VERSIONS)}); upgrade the daemon or the schema"
        )
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="embed_daemon")
    parser.add_argument("--pidfile", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("MEMORY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    if args.pidfile:
        args.pidfile.write_text(f"{os.getpid()}\n")
    stopping = False

    def on_term(signum: int, _frame: object) -> None:
        nonlocal stopping
        log.info("signal %s received, stopping", signum)
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("embed daemon %s starting", __version__)
    delay = 0.5
    while not stopping:
        try:
            with psycopg.connect(autocommit=True, application_name="embed_daemon") as conn:
                version = check_schema(conn)
                log.info("connected, schema API version %s", version)
                delay = 0.5
                while not stopping:
                    conn.execute("SELECT 1")
                    time.sleep(1)
        except SchemaVersionError as exc:
            log.error("%s", exc)
            return 2
        except psycopg.OperationalError as exc:
            log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    if args.pidfile and args.pidfile.exists():
        args.pidfile.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
