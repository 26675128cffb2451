"""Database gauges for the daemon's Prometheus endpoint: memory.health() as metrics.

A thread of its own reads memory.health_metrics() (counts and statuses, no memory
content) every MEMORY_DB_GAUGES_SECONDS (default 15) over its own connection; scrapes
are answered from the last reading, so a slow database never slows /metrics.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from embed_daemon.config import Config
from embed_daemon.db import connect

log = logging.getLogger(__name__)

Row = tuple[str, dict[str, str], float]


class DbGauges(Collector):
    """A collector of the last memory.health_metrics() reading, and the thread taking it."""

    def __init__(self, cfg: Config, stop: threading.Event, interval: float | None = None) -> None:
        self.cfg = cfg
        self.stop = stop
        self.interval = interval or float(os.environ.get("MEMORY_DB_GAUGES_SECONDS", "15") or 15)
        self.lock = threading.Lock()
        self.rows: list[Row] = []
        self.read_at = 0.0
        self.thread = threading.Thread(target=self._run, name="db-gauges", daemon=True)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self)

    def start(self) -> None:
        self.thread.start()

    def read(self, conn: psycopg.Connection) -> list[Row]:
        rows = conn.execute("SELECT metric, labels, value FROM memory.health_metrics()").fetchall()
        out: list[Row] = []
        for metric, labels, value in rows:
            if isinstance(labels, str):
                labels = json.loads(labels)
            out.append((metric, {k: str(v) for k, v in (labels or {}).items()}, float(value)))
        with self.lock:
            self.rows = out
            self.read_at = time.time()
        return out

    def _run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                with connect(self.cfg, "gauges") as conn:
                    backoff = 1.0
                    while not self.stop.is_set():
                        self.read(conn)
                        if self.stop.wait(self.interval):
                            return
            except psycopg.Error as exc:
                log.warning("db gauges: %s; retrying", exc)
            except Exception:  # gauges must never take the daemon down
                log.exception("db gauges: unexpected error")
            if self.stop.wait(backoff):
                return
            backoff = min(backoff * 2, 60.0)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # metric names are known only after the first reading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.lock:
            rows = list(self.rows)
            read_at = self.read_at
        families: dict[tuple[str, tuple[str, ...]], GaugeMetricFamily] = {}
        for metric, labels, value in rows:
            names = tuple(sorted(labels))
            fam = families.get((metric, names))
            if fam is None:
                fam = GaugeMetricFamily(metric, f"memory.health_metrics(): {metric}", labels=names)
                families[(metric, names)] = fam
            fam.add_metric([labels[n] for n in names], value)
        yield from families.values()
        if read_at:
            age = GaugeMetricFamily(
                "memory_db_gauges_age_seconds", "Age of the last memory.health_metrics() reading"
            )
            age.add_metric([], time.time() - read_at)
            yield age
