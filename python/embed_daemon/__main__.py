"""Entry point: ``python -m embed_daemon [--pidfile PATH]``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from embed_daemon import __version__
from embed_daemon.cache import CacheWarmer
from embed_daemon.config import Config, ConfigError
from embed_daemon.metrics import CacheMetrics, HealthState, Metrics, serve
from embed_daemon.model import Encoder, ModelPool
from embed_daemon.query_server import QueryServer, SocketInUse
from embed_daemon.worker import Heartbeat, SchemaVersionError, Worker

log = logging.getLogger("embed_daemon")

EXIT_CONFIG = 2


def main(argv: list[str] | None = None, encoder_class: Callable[..., Encoder] = Encoder) -> int:
    """Runs the daemon until SIGTERM; encoder_class makes the model encoders (the tests
    inject one: testing.daemon)."""
    parser = argparse.ArgumentParser(prog="embed_daemon", description=__doc__)
    parser.add_argument("--pidfile", type=Path, default=None)
    args = parser.parse_args(argv)
    # offline, quiet model loading: the weights ship inside a package
    for name in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
        os.environ.setdefault(name, "1")
    logging.basicConfig(
        level=os.environ.get("MEMORY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    try:
        cfg = Config.from_env()
    except ConfigError as exc:
        log.error("bad configuration: %s", exc)
        return EXIT_CONFIG
    if args.pidfile:
        args.pidfile.write_text(f"{os.getpid()}\n")

    stop = threading.Event()
    metrics = Metrics()
    health = HealthState(stale_after=max(60.0, 3 * cfg.poll_seconds))

    def on_signal(signum: int, _frame: object) -> None:
        log.info(
            "signal %s received: finishing or releasing the current batch, then stopping", signum
        )
        health.stopping = True
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("embed daemon %s starting as worker %s", __version__, cfg.worker_name)

    pool = ModelPool(cfg.encode_batch_size, encoder_class=encoder_class)
    worker = Worker(cfg, pool, metrics, health, stop)
    heartbeat = Heartbeat(worker)
    http = None
    query = QueryServer(cfg.socket_path, pool, metrics) if cfg.socket_path else None
    try:
        if cfg.metrics_port:
            http = serve(metrics, health, cfg.metrics_host, cfg.metrics_port)
        if query is not None:
            query.start()
        heartbeat.start()
        if cfg.redis_url is None:
            log.info("MEMORY_REDIS_URL is not set: no Redis cache warming")
        else:  # its own thread and connection; never blocks embedding
            CacheWarmer(cfg, CacheMetrics(metrics.registry), stop).start()
        worker.run()
    except (SchemaVersionError, SocketInUse, OSError) as exc:
        refused = isinstance(exc, SchemaVersionError)
        log.error("%s: %s", "refusing to run" if refused else "cannot start", exc)
        return EXIT_CONFIG
    finally:
        stop.set()
        if heartbeat.is_alive():
            heartbeat.join(timeout=10)
        if worker.ready.is_set():
            heartbeat.final()
        if query is not None:
            query.stop()
        if http is not None:
            http.shutdown()
        if args.pidfile and args.pidfile.exists():
            args.pidfile.unlink()
        log.info("embed daemon stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
