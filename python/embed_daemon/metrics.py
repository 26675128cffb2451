"""Prometheus metrics and the health endpoint, served on a loopback port."""

from __future__ import annotations

import json
import logging
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)
disable_created_metrics()  # no *_created series: they only double the output

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    """The daemon's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        counter, gauge, histogram = (partial(m, registry=r) for m in (Counter, Gauge, Histogram))
        model = ["model"]
        self.processed = counter("embeddings_processed", "Chunk vectors embedded and stored", model)
        self.jobs_done = counter(
            "embedding_jobs_completed",
            "Embedding jobs completed (all vectors of an episode or fact)",
            model,
        )
        self.stale = counter(
            "embeddings_stale_results",
            "Results discarded because the lease was lost or the text changed",
        )
        self.dead = counter("embeddings_dead", "Jobs that ran out of attempts", model)
        self.retries = counter("worker_retry", "Failed jobs scheduled for another attempt", model)
        self.reconnects = counter("db_reconnects", "Reconnections to PostgreSQL")
        self.windowed = counter(
            "embedding_windowed_texts",
            "Texts longer than the model window, embedded as a mean of windows",
        )
        self.queue_depth = gauge(
            "embeddings_queue_depth",
            "Embedding jobs not done, by model and state",
            [*model, "state"],
        )
        self.latency = histogram(
            "embeddings_processing_latency_seconds",
            "Claim to completion of a batch",
            model,
            buckets=LATENCY_BUCKETS,
        )
        self.encode_seconds = histogram(
            "embedding_encode_seconds", "Model time of a batch", model, buckets=LATENCY_BUCKETS
        )
        self.freshness = histogram(
            "embedding_commit_to_embedded_seconds",
            "From the write that enqueued a job to its vectors stored",
            model,
            buckets=FRESHNESS_BUCKETS,
        )
        self.queries = counter("embed_query_requests", "embed_query() requests", ["outcome"])
        self.query_latency = histogram(
            "embed_query_latency_seconds",
            "Time to answer an embed_query() request",
            buckets=LATENCY_BUCKETS,
        )
        self.up = gauge(
            "embed_daemon_db_connected", "1 while the daemon is connected to PostgreSQL"
        )


class CacheMetrics:
    """The cache warmer's metrics, in the daemon's registry (only when it runs)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        counter, gauge = (partial(Counter, registry=registry), partial(Gauge, registry=registry))
        self.events = counter(
            "cache_events_applied", "Cache notifications applied to Redis", ["kind"]
        )
        self.redis_errors = counter("cache_redis_errors", "Redis errors of the cache warmer")
        self.repairs = counter(
            "cache_reconcile_repairs", "Keys repaired by reconciliations", ["kind"]
        )
        self.reconciliations = counter("cache_reconciliations", "Reconciliations run", ["outcome"])
        self.connected = gauge("cache_redis_connected", "1 while the cache warmer reaches Redis")
        self.lag = gauge("cache_sync_lag_seconds", "Commit to Redis of the last applied change")


class HealthState:
    """What /healthz reports: connected, loop alive, not stopping."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self.lock = threading.Lock()
        self.db_connected = False
        self.stopping = False
        self.last_loop = time.monotonic()
        self.detail = "starting"

    def beat(self, connected: bool, detail: str) -> None:
        with self.lock:
            self.db_connected = connected
            self.detail = detail
            self.last_loop = time.monotonic()

    def snapshot(self) -> tuple[bool, dict[str, object]]:
        with self.lock:
            age = time.monotonic() - self.last_loop
            ok = self.db_connected and not self.stopping and age < self.stale_after
            state = {"ok": ok, "db_connected": self.db_connected, "stopping": self.stopping}
            return ok, state | {"loop_age_seconds": round(age, 3), "detail": self.detail}


def serve(metrics: Metrics, health: HealthState, host: str, port: int) -> ThreadingHTTPServer:
    """Starts /metrics and /healthz on host:port in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/metrics":
                body = generate_latest(metrics.registry)
                self._send(200, CONTENT_TYPE_LATEST, body)
            elif self.path.split("?")[0] == "/healthz":
                ok, state = health.snapshot()
                self._send(200 if ok else 503, "application/json", json.dumps(state).encode())
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("http: " + fmt, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("metrics and /healthz on http://%s:%s", host, port)
    return server
