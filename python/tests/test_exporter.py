"""The database gauges: prometheus-postgres-exporter (scripts/exporter.sh, `make up`)
with the custom queries of monitoring/postgres-exporter-queries.yaml over
memory.health_metrics(), logged in as memory_exporter."""

from __future__ import annotations

import re
import time
import urllib.request

import psycopg
import pytest
from conftest import CONFIG, ROOT, conninfo
from psycopg import errors

URL = f"http://127.0.0.1:{CONFIG['EXPORTER_PORT_MEMORY']}/metrics"


def scrape() -> dict[str, list[str]]:
    """metric name -> its sample lines."""
    with urllib.request.urlopen(URL, timeout=10) as r:
        text = r.read().decode()
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.setdefault(re.split(r"[{ ]", line, maxsplit=1)[0], []).append(line)
    return out


def scrape_connected(timeout: float = 20) -> dict[str, list[str]]:
    """A scrape with the exporter connected. Its connection breaks when PostgreSQL
    restarts (other tests restart it): the first scrape after that reports pg_up 0 and
    reconnects, as it would for a Prometheus server scraping every few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = scrape()
        if got.get("pg_up") == ["pg_up 1"] or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_the_exporter_serves_the_database_gauges(superconn):
    got = scrape_connected()
    assert got["pg_up"] == ["pg_up 1"]
    assert got["pg_exporter_last_scrape_error"] == ["pg_exporter_last_scrape_error 0"]
    for name in (
        "memory_layer_status",
        "memory_embedding_queue_jobs",
        "memory_embedding_oldest_pending_seconds",
        "memory_embedding_dead_jobs_last_hour",
        "memory_daemon_heartbeat_age_seconds",
        "memory_cache_reconciliations_repairing_in_a_row",
        "memory_cache_sync_lag_seconds",
        "memory_stored_rows",
        "memory_cron_job_failed",
        "memory_agents_needing_own_vector_index",
    ):
        assert name in got, name
    assert any('layer="cache"' in line for line in got["memory_layer_status"])
    # the same figures as memory.health_metrics(): the count of layers
    layers = superconn.execute(
        "SELECT count(*) FROM memory.health_metrics() WHERE metric = 'memory_layer_status'"
    ).fetchone()[0]
    assert len(got["memory_layer_status"]) == layers
    # only the custom queries: no server statistics or settings of the cluster
    assert not [n for n in got if n.startswith(("pg_stat", "pg_settings", "pg_database"))]


def test_every_gauge_of_the_alert_rules_is_exported():
    rules = (ROOT / "monitoring" / "alerts.yml").read_text()
    exprs = re.findall(r"^\s*expr: (.*)$", rules, re.M)
    names = {n for e in exprs for n in re.findall(r"\b(memory_[a-z_]+|pg_up)\b", e)}
    assert len(exprs) == 7 and "memory_layer_status" in names
    got = scrape_connected()
    assert sorted(names - set(got)) == []


def test_the_exporter_login_reads_the_gauges_and_no_memory():
    with psycopg.connect(conninfo("memory_exporter"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM memory.health_metrics()").fetchone()[0] > 0
        for query in (
            "SELECT count(*) FROM memory.episodes",
            "SELECT count(*) FROM memory.working_memory",
            "SELECT count(*) FROM memory.chunks",
            "SELECT * FROM memory.search_episodic_memory('x')",
            "SELECT * FROM memory.cache_blocks('{}')",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(query)
    # and its password is generated, never the default of the packaged exporter
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo("memory_exporter").replace("password=", "password=x"))
