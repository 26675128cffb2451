"""The Redis cache of working memory and blocks, against the real Postgres and Redis.

A cache warmer (python/embed_daemon/cache.py) runs in this process as the daemon's
login (memory_daemon), so the tests do not depend on which daemon build is running.
Redis outages are real: scripts/redis.sh stop, and always start again in `finally`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
import redis
from conftest import (
    CONFIG,
    ROOT,
    RUN_DIR,
    SECRETS,
    conninfo,
    create_login_agent,
    drop_login_agents,
    secret,
)
from embed_daemon.cache import REPAIRS, CacheWarmer
from embed_daemon.config import Config
from embed_daemon.metrics import CacheMetrics
from prometheus_client import CollectorRegistry
from psycopg import errors

pytestmark = pytest.mark.timeout(300)
REDIS_URL = f"redis://127.0.0.1:{CONFIG['REDIS_PORT_MEMORY']}/0"


# The key layout of README.md, "Redis cache" (only SQL builds keys; the tests pin them)
def wm_key(agent_id: str, working_id: str) -> str:
    return f"mem:{agent_id}:wm:{working_id}"


def ctx_key(agent_id: str, context_type: str) -> str:
    return f"mem:{agent_id}:wmctx:{context_type}"


def blocks_key(agent_id: str) -> str:
    return f"mem:{agent_id}:blocks"


@dataclass
class Agent:
    name: str
    role: str
    password: str
    agent_id: uuid.UUID

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host=str(RUN_DIR),
            port=CONFIG["PGPORT_MEMORY"],
            dbname=CONFIG["MEMORY_DB"],
            user=self.role,
            password=self.password,
            autocommit=True,
        )


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except redis.RedisError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        REDIS_URL, password=secret("redis_password"), decode_responses=True, socket_timeout=3
    )


def redis_script(action: str) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "redis.sh"), action], check=True)


@pytest.fixture(scope="module")
def agents() -> Iterator[dict[str, Agent]]:
    suffix = secrets.token_hex(4)
    made: dict[str, Agent] = {}
    with psycopg.connect(conninfo(), autocommit=True) as su:
        try:
            for label in ("alpha", "beta"):
                role = f"test_cache_{label}_{suffix}"
                password = secrets.token_urlsafe(24)
                name = f"Cache{label.title()}{suffix}"
                agent_id = create_login_agent(su, name, role, password)
                made[label] = Agent(name, role, password, agent_id)
            yield made
        finally:
            ids = [a.agent_id for a in made.values()]
            drop_login_agents(su, [a.role for a in made.values()], ids)
            # the cascaded deletes notified the warmer; drop what is left of ours anyway
            try:
                r = redis_client()
                for a in ids:
                    keys = list(r.scan_iter(match=f"mem:{a}:*"))
                    if keys:
                        r.delete(*keys)
            except redis.RedisError:
                pass


@pytest.fixture(scope="module")
def warmer() -> Iterator[CacheWarmer]:
    """A cache warmer thread as the daemon's login, like the daemon runs it."""
    saved = dict(os.environ)
    os.environ.update(
        PGHOST=str(RUN_DIR),
        PGPORT=CONFIG["PGPORT_MEMORY"],
        PGDATABASE=CONFIG["MEMORY_DB"],
        PGUSER="memory_daemon",
        PGPASSFILE=str(SECRETS / "pgpass"),
    )
    stop = threading.Event()
    cfg = Config.from_env(
        {
            "MEMORY_WORKER_NAME": f"test-cache-{secrets.token_hex(3)}",
            "MEMORY_REDIS_URL": REDIS_URL,
            "MEMORY_REDIS_PASSWORD_FILE": str(SECRETS / "redis_password"),
            "MEMORY_HEARTBEAT_SECONDS": "0.5",
            "MEMORY_RECONNECT_MAX_SECONDS": "1",
        }
    )
    w = CacheWarmer(cfg, CacheMetrics(CollectorRegistry()), stop)
    w.start()
    try:
        wait_for("the warmer's first reconciliation", lambda: w.reconciliations > 0, 60)
        yield w
    finally:
        stop.set()
        w.join(timeout=15)
        os.environ.clear()
        os.environ.update(saved)
        # the warmer's heartbeat row would otherwise stay in health()'s list for a day
        with psycopg.connect(conninfo(), autocommit=True) as su:
            su.execute(
                "DELETE FROM memory.cache_warmers WHERE worker_name = %s", (cfg.worker_name,)
            )


def pg_ttl_ms(su: psycopg.Connection, working_id: uuid.UUID) -> float:
    return su.execute(
        "SELECT extract(EPOCH FROM expires_at - clock_timestamp()) * 1000 "
        "FROM memory.working_memory WHERE working_id = %s",
        (working_id,),
    ).fetchone()[0]


def ttl_agrees(r: redis.Redis, su: psycopg.Connection, agent: Agent, wid: uuid.UUID) -> bool:
    pttl = r.pttl(wm_key(str(agent.agent_id), str(wid)))
    return pttl > 0 and abs(float(pg_ttl_ms(su, wid)) - pttl) <= 1000


def request_reconcile_and_wait(su: psycopg.Connection, since: int) -> tuple:
    """Asks for a reconciliation, waits for it, and sums the repairs since repair `since`.

    The daemon's own warmer may run one too; whichever does, the sums count every repair.
    """
    request = su.execute("SELECT memory.request_cache_reconcile('test')").fetchone()[0]
    wait_for(
        "the reconciliation to finish",
        lambda: su.execute(
            "SELECT finished_at FROM memory.cache_reconcile_requests WHERE request_id = %s",
            (request,),
        ).fetchone()[0],
        60,
    )
    return su.execute(
        "SELECT bool_and(ok), max(checked), sum(missing), sum(stale), sum(extra), sum(expired) "
        "FROM memory.cache_repairs WHERE repair_id > %s AND ok",
        (since,),
    ).fetchone()


def last_repair_id(su: psycopg.Connection) -> int:
    return su.execute("SELECT coalesce(max(repair_id), 0) FROM memory.cache_repairs").fetchone()[0]


def test_redis_follows_postgres(agents, warmer, superconn):
    alpha = agents["alpha"]
    a = str(alpha.agent_id)
    r = redis_client()
    with alpha.connect() as conn:
        # set
        wid = conn.execute(
            "SELECT memory.set_working_memory('task', %s::jsonb, '1 hour', 'high', 'plan')",
            (json.dumps({"step": 1}),),
        ).fetchone()[0]
        key = wm_key(a, str(wid))
        wait_for("the item in Redis", lambda: r.get(key))
        cached = json.loads(r.get(key))
        assert cached["content"] == {"step": 1}
        assert cached["context_type"] == "task" and cached["key"] == "plan"
        assert str(wid) in r.smembers(ctx_key(a, "task"))  # read through Redis
        assert ttl_agrees(r, superconn, alpha, wid)

        # update (upsert by key, longer TTL)
        conn.execute(
            "SELECT memory.set_working_memory('task', %s::jsonb, '2 hours', 'high', 'plan')",
            (json.dumps({"step": 2}),),
        )
        wait_for(
            "the update in Redis",
            lambda: json.loads(r.get(key) or "{}").get("content") == {"step": 2},
        )
        wait_for("the new TTL", lambda: ttl_agrees(r, superconn, alpha, wid), 10)

        # blocks: one hash per agent
        conn.execute("SELECT memory.set_block('persona', 'I am the cache test')")
        wait_for("the block in Redis", lambda: r.hget(blocks_key(a), "persona"))
        conn.execute("SELECT memory.set_block('persona', 'I changed')")
        wait_for(
            "the block update",
            lambda: (
                json.loads(r.hget(blocks_key(a), "persona") or "{}").get("value") == "I changed"
            ),
        )

        # expiry: the row expires in Postgres (reads hide it, the job deletes it)
        superconn.execute(
            "UPDATE memory.working_memory SET updated_at = now() - interval '2 minutes', "
            "expires_at = now() - interval '1 minute' WHERE working_id = %s",
            (wid,),
        )
        assert (
            conn.execute("SELECT count(*) FROM memory.get_working_memory('task')").fetchone()[0]
            == 0
        )
        wait_for("the expired item to leave Redis", lambda: r.exists(key) == 0)
        assert str(wid) not in r.smembers(ctx_key(a, "task"))
        superconn.execute("SELECT memory.expire_working_memory()")
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.working_memory WHERE working_id = %s", (wid,)
            ).fetchone()[0]
            == 0
        )

        # delete
        wid2 = conn.execute(
            "SELECT memory.set_working_memory('notes', '{\"n\": 1}'::jsonb, '10 minutes')"
        ).fetchone()[0]
        key2 = wm_key(a, str(wid2))
        wait_for("the second item", lambda: r.exists(key2))
        assert ttl_agrees(r, superconn, alpha, wid2)
        assert conn.execute("SELECT memory.clear_working_memory('notes')").fetchone()[0] == 1
        wait_for("the deleted item to leave Redis", lambda: r.exists(key2) == 0)
        assert str(wid2) not in r.smembers(ctx_key(a, "notes"))


def test_flushall_then_one_reconciliation_restores_every_live_key(agents, warmer, superconn):
    alpha = agents["alpha"]
    a = str(alpha.agent_id)
    r = redis_client()
    # Rows written in replica mode fire no trigger: no warmer hears of them, so only a
    # reconciliation can put them in Redis (the daemon's own warmer, if it runs, cannot
    # race this test with late notifications).
    with superconn.transaction():
        superconn.execute("SET LOCAL session_replication_role = replica")
        live = [
            superconn.execute(
                "INSERT INTO memory.working_memory (agent_id, context_type, content, expires_at) "
                "VALUES (%s, 'bulk', jsonb_build_object('i', %s::int), now() + interval '30 minutes') "
                "RETURNING working_id",
                (alpha.agent_id, i),
            ).fetchone()[0]
            for i in range(25)
        ]
        # expired in Postgres but not yet deleted by the job (reads already hide it)
        gone = superconn.execute(
            "INSERT INTO memory.working_memory (agent_id, context_type, content, updated_at, expires_at) "
            "VALUES (%s, 'bulk', '{\"old\": true}', now() - interval '2 minutes', "
            "now() - interval '1 minute') RETURNING working_id",
            (alpha.agent_id,),
        ).fetchone()[0]
    with alpha.connect() as conn:
        conn.execute("SELECT memory.set_block('goal', 'survive a flush')")
    wait_for("the block in Redis", lambda: r.hexists(blocks_key(a), "goal"))

    since = last_repair_id(superconn)
    r.flushall()
    # and Redis gets things wrong behind the warmer's back
    r.set(wm_key(a, str(gone)), '{"old": true}', ex=3600)  # expired but present
    r.set(wm_key(a, str(uuid.uuid4())), "{}", ex=3600)  # never existed
    r.set(wm_key(a, str(live[0])), '{"wrong": 1}', ex=3600)  # stale value

    ok, checked, missing, stale, extra, expired = request_reconcile_and_wait(superconn, since)
    assert ok and checked >= 26
    assert missing >= 24 and stale >= 1
    # the planted keys: one of a row that never existed (extra), one of an expired row
    # (expired; extra when the memory-expire-working-memory job deleted the row first)
    assert extra >= 1
    if superconn.execute(
        "SELECT count(*) FROM memory.working_memory WHERE working_id = %s", (gone,)
    ).fetchone()[0]:
        assert expired >= 1

    for w in live:
        assert ttl_agrees(r, superconn, alpha, w), w
        assert "i" in json.loads(r.get(wm_key(a, str(w))))["content"]
    assert r.exists(wm_key(a, str(gone))) == 0
    assert set(r.smembers(ctx_key(a, "bulk"))) == {str(w) for w in live}
    assert json.loads(r.hget(blocks_key(a), "goal"))["value"] == "survive a flush"
    # every live key of every agent is back, and no expired one is cached
    live_total = superconn.execute(
        "SELECT count(*) FROM memory.working_memory WHERE expires_at > now()"
    ).fetchone()[0]
    assert len(list(r.scan_iter(match="mem:*:wm:*", count=1000))) >= live_total - 1

    health = superconn.execute("SELECT memory.health() -> 'cache'").fetchone()[0]
    assert health["last_repair"]["ok"] and health["last_repair"]["checked"] >= 26


def test_reconciliation_stamps_agree_with_sql(agents, warmer):
    """The sha256 stamps the warmer sends (values; blocks in label order) are those that
    memory.cache_diff_* computes: a key in step needs nothing, a changed one is repaired."""
    alpha = agents["alpha"]
    a = str(alpha.agent_id)
    r = redis_client()
    with alpha.connect() as conn:
        wid = str(
            conn.execute(
                "SELECT memory.set_working_memory('diff', %s::jsonb, '1 hour')",
                (json.dumps({"nota": "el año pasó, ¿verdad?"}, ensure_ascii=False),),
            ).fetchone()[0]
        )
        conn.execute("SELECT memory.set_block('human', 'Ana, de Córdoba; prefiere «tú»')")
    wait_for("the item in Redis", lambda: r.get(wm_key(a, wid)))
    wait_for("the block in Redis", lambda: "Córdoba" in (r.hget(blocks_key(a), "human") or ""))
    with psycopg.connect(conninfo("memory_daemon"), autocommit=True) as conn:
        cfg = Config.from_env({"MEMORY_WORKER_NAME": "test-diff"})
        w = CacheWarmer(cfg, CacheMetrics(CollectorRegistry()), threading.Event())
        w.conn, w.r = conn, r
        c: Counter[str] = Counter()
        w._repair_working_memory([wm_key(a, wid)], c, compare=True)
        w._repair_blocks([blocks_key(a)], c, compare=True)
        assert sum(c[kind] for kind in REPAIRS) == 0, c
        good = r.get(wm_key(a, wid))
        r.set(wm_key(a, wid), good.replace("año", "ano"), px=r.pttl(wm_key(a, wid)))
        r.hset(blocks_key(a), "human", "{}")
        w._repair_working_memory([wm_key(a, wid)], c, compare=True)
        w._repair_blocks([blocks_key(a)], c, compare=True)
        assert (c["stale"], c["missing"]) == (2, 0), c
        assert r.get(wm_key(a, wid)) == good
        assert "Córdoba" in r.hget(blocks_key(a), "human")


def test_redis_outage_writes_and_reads_go_on_then_one_reconciliation_repairs(
    agents, warmer, superconn
):
    alpha = agents["alpha"]
    a = str(alpha.agent_id)
    before = superconn.execute(
        "SELECT coalesce(max(repair_id), 0) FROM memory.cache_repairs"
    ).fetchone()[0]
    written: list[uuid.UUID] = []
    try:
        redis_script("stop")
        with alpha.connect() as conn:
            for i in range(10):
                t0 = time.monotonic()
                written.append(
                    conn.execute(
                        "SELECT memory.set_working_memory('outage', jsonb_build_object('i', %s::int), '20 minutes')",
                        (i,),
                    ).fetchone()[0]
                )
                assert time.monotonic() - t0 < 2.0  # writes never wait for Redis
            conn.execute("SELECT memory.set_block('during_outage', 'written while Redis was down')")
            rows = conn.execute(
                "SELECT working_id FROM memory.get_working_memory('outage')"
            ).fetchall()
            assert {row[0] for row in rows} == set(written)
            assert conn.execute("SELECT count(*) FROM memory.get_blocks()").fetchone()[0] >= 1
        wait_for("the warmer to notice", lambda: not warmer.redis_ok and warmer.errors > 0, 30)
        wait_for(
            "health() to report Redis unreachable",
            lambda: any(
                "Redis is unreachable" in p
                for p in superconn.execute(
                    "SELECT memory.health() -> 'cache' -> 'problems'"
                ).fetchone()[0]
            ),
            30,
        )
    finally:
        redis_script("start")
    r = redis_client()
    wait_for(
        "every key written during the outage",
        lambda: (
            all(r.exists(wm_key(a, str(w))) for w in written)
            and r.hexists(blocks_key(a), "during_outage")
        ),
        60,
    )
    for w in written:
        assert ttl_agrees(r, superconn, alpha, w)
    # Redis came back empty: one reconciliation restores every live key, also those
    # written before the outage
    repaired = wait_for(
        "a reconciliation after the outage",
        lambda: superconn.execute(
            "SELECT sum(missing) FROM memory.cache_repairs WHERE repair_id > %s AND ok",
            (before,),
        ).fetchone()[0],
        60,
    )
    live = superconn.execute(
        "SELECT working_id FROM memory.working_memory WHERE agent_id = %s AND expires_at > now()",
        (alpha.agent_id,),
    ).fetchall()
    assert len(live) > len(written)
    assert repaired >= 1
    for (w,) in live:
        assert r.exists(wm_key(a, str(w))), w
    wait_for("the warmer to be connected again", lambda: warmer.redis_ok, 30)


def test_agents_cannot_read_cache_through_sql(agents, warmer, superconn):
    alpha, beta = agents["alpha"], agents["beta"]
    with alpha.connect() as conn:
        wid = conn.execute(
            "SELECT memory.set_working_memory('secret', '{\"s\": 1}'::jsonb)"
        ).fetchone()[0]
    with beta.connect() as conn:
        for query, params in (
            ("SELECT * FROM memory.cache_working_memory(%s::uuid[])", ([wid],)),
            ("SELECT * FROM memory.cache_working_memory_page(NULL, 10)", None),
            ("SELECT * FROM memory.cache_blocks(%s::uuid[])", ([alpha.agent_id],)),
            ("SELECT * FROM memory.cache_block_agents_page(NULL, 10)", None),
            ("SELECT memory.request_cache_reconcile()", None),
            ("SELECT memory.claim_cache_reconcile('beta')", None),
            ("SELECT * FROM memory.health_metrics()", None),
            ("SELECT * FROM memory.health_report", None),
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(query, params)
        assert conn.execute("SELECT count(*) FROM memory.get_working_memory()").fetchone()[0] == 0
    # no function of schema memory that an agent may run takes or returns cache keys of others
    callable_cache = superconn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p "
        "WHERE p.pronamespace = 'memory'::regnamespace AND p.proname ~ 'cache' "
        "AND has_function_privilege(%s, p.oid, 'EXECUTE') AND p.prorettype <> 'trigger'::regtype",
        (beta.role,),
    ).fetchall()
    assert callable_cache == []


def test_redis_password_is_generated_and_never_committed(root):
    password = secret("redis_password")
    assert len(password) >= 20
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.split()
    assert not any(p.startswith(".secrets") for p in tracked)
    found = subprocess.run(
        ["git", "grep", "-lF", password], cwd=root, capture_output=True, text=True
    )
    assert found.stdout == ""
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).get("x")


def test_promtool_checks_the_alert_rules(root):
    out = subprocess.run(
        ["promtool", "check", "rules", str(root / "monitoring" / "alerts.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 rules found" in out.stdout
