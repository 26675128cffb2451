"""Isolation where pgTAP cannot look: notification payloads, NOTICEs, Redis, export files.

Any session of a database may LISTEN to any channel, an agent's included, so every
payload the project sends must carry no identifier of an agent or a row (issue 15: a
listener learned other agents' ids from the cache channel): a model id, a constant word
or an operator's request number. The channels are
taken from the SQL (every pg_notify and NOTIFY in sql/), and every kind of write is
made with a distinctive secret word in every text it takes. This runs in a scratch
database of its own (migrated like the real one, dropped at the end): notifications are
per database, so the running daemon and pg_cron in the real database neither see these
nor add theirs (a LISTEN does not consume a notification; every listener gets each one),
and without a daemon the scratch database also shows search's full-text fallback.

Redis is checked against the real database and the running daemon's cache warmer (a
warmer on a scratch database would reconcile the shared Redis against the wrong rows).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
import redis
from conftest import CONFIG, ROOT, conninfo, secret
from psycopg import sql
from testing.stack import ScratchDatabase, pg_env, wait_for

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "isonotify"

pytestmark = pytest.mark.timeout(600)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID_RE = re.compile(UUID)
# Every payload the project may send (sql/functions/041-embedding-queue.sql, 150-cache.sql,
# 160-operations.sql): a model id, 'resume', 'changes', c:<request>; never a uuid.
PAYLOAD_RE = re.compile(r"[0-9]{1,5}|resume|changes|c:[0-9]{1,19}")
MAX_PAYLOAD = 80


def project_channels() -> set[str]:
    """Every channel named by pg_notify('...') or NOTIFY ... in sql/."""
    found: set[str] = set()
    for path in (ROOT / "sql").rglob("*.sql"):
        text = path.read_text()
        found |= set(re.findall(r"pg_notify\s*\(\s*'([a-z_][a-z0-9_]*)'", text, re.IGNORECASE))
        found |= set(re.findall(r"^\s*NOTIFY\s+([a-z_][a-z0-9_]*)", text, re.IGNORECASE | re.M))
    return found


def daemon_channels() -> set[str]:
    """The channels the daemon LISTENs to (python/embed_daemon)."""
    found: set[str] = set()
    for path in (ROOT / "python" / "embed_daemon").glob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"LISTEN ([a-z_][a-z0-9_]*)", text))
        found |= set(re.findall(r"^CHANNEL\s*=\s*\"([a-z_][a-z0-9_]*)\"", text, re.M))
    return found


@dataclass
class Agent:
    name: str
    role: str
    secret: str
    agent_id: uuid.UUID | None = None
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


@pytest.fixture(scope="module")
def agents(db: ScratchDatabase) -> dict[str, Agent]:
    pair = {}
    for name in ("Alpha", "Beta"):
        word = f"zq{name.lower()}{secrets.token_hex(4)}"
        a = Agent(name=name, role=db.make_agent(name), secret=word)
        with db.connect() as su:
            a.agent_id = su.execute(
                "SELECT agent_id FROM memory.agents WHERE name = %s", (name,)
            ).fetchone()[0]
        pair[name.lower()] = a
    return pair


def secret_fragments(a: Agent) -> list[str]:
    """What must never appear in a payload: the secret and the words around it."""
    return [a.secret, a.secret[:8], a.secret[-8:], "launch", "persona", "quokka", "telescope"]


def write_everything(db: ScratchDatabase, a: Agent) -> None:
    """Every kind of write an agent makes, with the secret in every text it takes."""
    s = a.secret
    with db.as_agent(a.role) as conn:

        def one(query: str, params: tuple = ()) -> uuid.UUID:
            return conn.execute(query, params).fetchone()[0]

        a.ids["episode"] = one(
            "SELECT memory.remember(%s, 0.9, ARRAY[%s], %s, now(), jsonb_build_object(%s::text, %s::text), %s)",
            (
                f"{s} the launch code, quokka telescope",
                f"tag-{s}",
                f"project {s}",
                s,
                s,
                f"session {s}",
            ),
        )
        a.ids["episode2"] = one("SELECT memory.remember(%s)", (f"{s} second episode",))
        conn.execute(
            "SELECT memory.update_episode(%s, content => %s, tags => ARRAY[%s], metadata => jsonb_build_object('k', %s::text))",
            (a.ids["episode"], f"{s} updated launch text", f"tag2-{s}", s),
        )
        conn.execute("SELECT memory.forget_episode(%s)", (a.ids["episode2"],))
        a.ids["fact"] = one(
            "SELECT memory.learn_fact(%s, %s, 0.7, ARRAY[%s]::uuid[])",
            (f"concept {s}", f"statement {s} quokka", a.ids["episode"]),
        )
        a.ids["fact2"] = one(
            "SELECT memory.learn_fact(%s, %s, supersedes => ARRAY[%s]::uuid[])",
            (f"concept {s}", f"newer statement {s}", a.ids["fact"]),
        )
        a.ids["fact3"] = one("SELECT memory.learn_fact(%s, %s)", (f"other {s}", f"third {s}"))
        conn.execute("SELECT memory.link_facts(%s, %s, %s)", (a.ids["fact2"], a.ids["fact3"], s))
        conn.execute("SELECT memory.invalidate_fact(%s)", (a.ids["fact3"],))
        a.ids["working"] = one(
            "SELECT memory.set_working_memory(%s, jsonb_build_object('note', %s::text), '1 hour', 'high', %s)",
            (f"ctx{s}", f"{s} on my mind", f"key {s}"),
        )
        conn.execute(
            "SELECT memory.set_working_memory(%s, jsonb_build_object('note', %s::text), '2 hours', 'critical', %s)",
            (f"ctx{s}", f"{s} changed my mind", f"key {s}"),
        )
        a.ids["short"] = one(
            "SELECT memory.set_working_memory(%s, jsonb_build_object('note', %s::text), '1 second')",
            (f"brief{s}", f"{s} soon gone"),
        )
        a.ids["cleared"] = one(
            "SELECT memory.set_working_memory(%s, jsonb_build_object('note', %s::text))",
            (f"clear{s}", f"{s} to clear"),
        )
        conn.execute("SELECT memory.clear_working_memory(%s)", (f"clear{s}",))
        conn.execute(
            "SELECT memory.set_block(%s, %s, %s)", (f"l{s}", f"I am {s}, persona", f"about {s}")
        )
        conn.execute("SELECT memory.set_block('persona', %s)", (f"persona of {s}",))
        a.ids["checkpoint"] = one(
            "SELECT memory.create_checkpoint(%s, jsonb_build_object('secret', %s::text))",
            (f"k{s}", s),
        )
        conn.execute("SELECT memory.set_block('persona', %s)", (f"persona changed {s}",))
        conn.execute("SELECT memory.restore_checkpoint(%s)", (a.ids["checkpoint"],))
        conn.execute(
            "SELECT memory.heartbeat(%s, jsonb_build_object(%s::text, 0.5), jsonb_build_object('ctx', %s::text))",
            (f"focus {s}", s, s),
        )
        a.ids["instance"] = one(
            "SELECT memory.register_instance(%s, 'primary', %s, jsonb_build_object(%s::text, true))",
            (f"instance-{s}", f"location {s}", s),
        )
        conn.execute("SELECT memory.instance_heartbeat(%s)", (a.ids["instance"],))
        a.ids["decision"] = one(
            "SELECT memory.propose_decision(%s, jsonb_build_object('proposal', %s::text))",
            (f"topic {s}", s),
        )
        conn.execute("SELECT memory.vote(%s, %s, true)", (a.ids["decision"], a.ids["instance"]))


def operate(db: ScratchDatabase, a: Agent) -> None:
    """The operators' writes: expiry, cache, queue, model, checkpoints, export/import."""
    with db.connect() as su:
        time.sleep(1.2)  # the one-second item expires
        assert su.execute("SELECT memory.expire_working_memory()").fetchone()[0] >= 1
        su.execute("SELECT memory.request_cache_reconcile('manual')")
        su.execute("SELECT memory.pause_embedding(%s)", (f"reason {a.secret}",))
        su.execute("SELECT memory.resume_embedding()")
        su.execute(
            "UPDATE memory.embedding_jobs SET state = 'dead', last_error = %s, last_error_at = now() "
            "WHERE agent_id = %s",
            (f"RuntimeError: {a.secret}", a.agent_id),
        )
        assert su.execute("SELECT memory.requeue_dead()").fetchone()[0] >= 1
        su.execute("SELECT memory.reembed(true)")
        su.execute(
            "SELECT memory.set_active_model(name) FROM memory.embedding_models WHERE is_serving"
        )
        su.execute("SELECT memory.checkpoint_now()")
        lines = [r[0] for r in su.execute("SELECT memory.export_agent(%s)", (a.name,))]
        su.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(f"{a.role}_copy")))
        db.roles.append(f"{a.role}_copy")
        su.execute(
            "SELECT memory.import_agent(%s, %s, %s)",
            ("\n".join(lines) + "\n", f"{a.name}Copy", f"{a.role}_copy"),
        )


def listen(conn: psycopg.Connection, channels: set[str]) -> None:
    for channel in sorted(channels):
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


def drain(conn: psycopg.Connection, quiet: float = 1.5) -> list[psycopg.Notify]:
    """Every notification delivered until none arrives for `quiet` seconds."""
    got: list[psycopg.Notify] = []
    while True:
        batch = list(conn.notifies(timeout=quiet))
        if not batch:
            return got
        got.extend(batch)


# ---------------------------------------------------------------------------------------
def test_the_channels_are_known():
    channels = project_channels()
    assert {"memory_embed", "memory_cache"} <= channels
    assert daemon_channels() <= channels, "the daemon listens only to channels the SQL uses"


def test_notification_payloads_carry_no_identifiers(db, agents):
    alpha, beta = agents["alpha"], agents["beta"]
    channels = project_channels()
    # Beta listens, as any agent may; a superuser session listens too (it sees the same).
    with db.as_agent(beta.role) as spy, db.connect() as operator_view:
        assert spy.execute("SELECT memory.current_agent()").fetchone()[0] == beta.agent_id
        listen(spy, channels)
        listen(operator_view, channels)
        # writers notify memory_embed only while a daemon sleeps: the operator's session
        # plays one, holding the models' wake-up locks (041-embedding-queue.sql)
        operator_view.execute(
            "SELECT pg_advisory_lock(1162691140, model_id) FROM memory.embedding_models"
        )
        write_everything(db, alpha)
        operate(db, alpha)
        seen = drain(spy)
        seen_by_operator = drain(operator_view, quiet=0.5)

    assert seen, "the writes sent notifications"
    assert sorted((n.channel, n.payload) for n in seen) == sorted(
        (n.channel, n.payload) for n in seen_by_operator
    ), "an agent hears exactly what any other session hears"
    payloads = [n.payload for n in seen]
    assert {n.channel for n in seen} == {"memory_embed", "memory_cache"}
    for n in seen:
        assert n.channel in channels
        assert len(n.payload) <= MAX_PAYLOAD, n.payload
        assert PAYLOAD_RE.fullmatch(n.payload), f"unexpected payload on {n.channel}: {n.payload!r}"
        for fragment in secret_fragments(alpha):
            assert fragment.lower() not in n.payload.lower(), (n.channel, n.payload)
    # every kind of payload was produced, so the checks above looked at each of them
    kinds = {p.split(":")[0] if ":" in p else ("model" if p.isdigit() else p) for p in payloads}
    assert kinds == {"model", "resume", "changes", "c"}, kinds
    assert not [p for p in payloads if UUID_RE.search(p)], "no payload names an agent or a row"
    # what changed went to a table only the daemon reads: Beta cannot see it
    for probe in (
        "SELECT * FROM memory.cache_changes",
        "SELECT * FROM memory.take_cache_changes('beta', 10)",
    ):
        with (
            db.as_agent(beta.role) as spy,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            spy.execute(probe)
    with db.connect() as su:
        recorded = {
            str(r[0]) for r in su.execute("SELECT DISTINCT agent_id FROM memory.cache_changes")
        }
    assert str(alpha.agent_id) in recorded, "Alpha's changes are recorded for the daemon"
    assert str(beta.agent_id) not in recorded, "Beta wrote nothing and is named by nothing"


def test_search_notices_and_errors_carry_nothing_of_the_other_agent(db, agents):
    alpha, beta = agents["alpha"], agents["beta"]
    notices: list[str] = []
    errors: list[str] = []
    with db.as_agent(beta.role) as conn:
        conn.add_notice_handler(
            lambda d: notices.append(
                " / ".join(x or "" for x in (d.message_primary, d.message_detail, d.message_hint))
            )
        )
        conn.execute("SELECT memory.remember('beta watches a quokka through a telescope')")
        conn.execute("SELECT memory.learn_fact('quokka', 'beta knows quokkas')")
        words = f"{alpha.secret} launch code quokka telescope"
        found = []
        for query, params in (
            ("SELECT content FROM memory.search_episodic_memory(%s)", (words,)),
            ("SELECT content FROM memory.search_episodic_memory(%s, mode => 'vector')", (words,)),
            (
                "SELECT content FROM memory.search_episodic_memory(%s, tags => ARRAY[%s])",
                (words, f"tag-{alpha.secret}"),
            ),
            (
                "SELECT content FROM memory.search_episodic_memory(%s, project => %s)",
                (words, f"project {alpha.secret}"),
            ),
            (
                "SELECT statement FROM memory.search_semantic_memory(%s, include_invalid => true)",
                (words,),
            ),
            ("SELECT memory.build_context(%s, 100000)::text", (words,)),
            ("SELECT memory.build_context_text(%s, 100000)", (words,)),
        ):
            found += [r[0] for r in conn.execute(query, params)]
        for query, params in (
            ("SELECT * FROM memory.search_episodic_memory(%s, k => 0)", (words,)),
            ("SELECT * FROM memory.search_semantic_memory(%s, mode => %s)", (words, alpha.secret)),
            ("SELECT memory.build_context(%s, -1)", (words,)),
            ("SELECT memory.restore_checkpoint(%s)", (alpha.ids["checkpoint"],)),
            ("SELECT memory.embed_query(%s)", (words,)),
        ):
            try:
                with conn.transaction(force_rollback=True):
                    conn.execute(query, params)
            except psycopg.Error as exc:
                d = exc.diag
                errors.append(
                    " / ".join(
                        x or "" for x in (d.message_primary, d.message_detail, d.message_hint)
                    )
                )
    assert any("quokka" in f for f in found), "Beta's searches found Beta's own memory"
    assert any("full-text search only" in n for n in notices), "the fallback NOTICE was raised"
    assert len(errors) == 5, errors
    # the refused mode names Beta's own argument, which here is Alpha's secret: leave it out
    checked = [e for e in errors if "unknown search mode" not in e]
    for text in found + notices + checked:
        assert alpha.secret not in text, text
        assert "launch" not in text, text
        assert not any(str(i) in text for i in alpha.ids.values()), text


def test_an_export_file_holds_one_agent(db, agents, tmp_path):
    alpha, beta = agents["alpha"], agents["beta"]
    with db.as_agent(beta.role) as conn:
        conn.execute("SELECT memory.remember(%s)", (f"{beta.secret} beta's own episode",))
        conn.execute("SELECT memory.set_block('persona', %s)", (f"beta {beta.secret}",))
        conn.execute(
            "SELECT memory.set_working_memory('task', jsonb_build_object('n', %s::text), key => 'shared-key')",
            (beta.secret,),
        )
    out = tmp_path / "beta.ndjson"
    env = dict(os.environ, **pg_env(db.name), PGUSER="postgres")
    done = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "export-agent.sh"),
            "--agent",
            beta.name,
            "--out",
            str(out),
            "--memory-db",
            db.name,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) & 0o077 == 0, "the export is readable by its owner only"
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["agent"] == {"name": beta.name, "agent_id": str(beta.agent_id)}
    body = "\n".join(lines[1:])
    assert beta.secret in body
    types = set()
    for line in lines[1:]:
        record = json.loads(line)
        types.add(record["type"])
        if "agent_id" in record:
            assert record["agent_id"] == str(beta.agent_id), record
    assert {"episode", "fact", "block", "working_memory"} <= types, types
    assert alpha.secret not in body
    assert not any(str(i) in body for i in alpha.ids.values())
    assert str(alpha.agent_id) not in body


# ---------------------------------------------------------------------------------------
# Redis: the real database and the running daemon's cache warmer.
REDIS_URL = f"redis://127.0.0.1:{CONFIG['REDIS_PORT_MEMORY']}/0"


@pytest.fixture(scope="module")
def real_agents() -> Iterator[dict[str, Agent]]:
    """Two agents of the real database (NOLOGIN roles; sessions switch to them)."""
    suffix = secrets.token_hex(4)
    made: dict[str, Agent] = {}
    with psycopg.connect(conninfo(), autocommit=True) as su:
        try:
            for label in ("alpha", "beta"):
                a = Agent(
                    name=f"IsoRedis{label.title()}{suffix}",
                    role=f"test_isoredis_{label}_{suffix}",
                    secret=f"zq{label}{secrets.token_hex(4)}",
                )
                su.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(a.role)))
                made[label] = a
                a.agent_id = su.execute(
                    "SELECT memory.create_agent(%s, %s)", (a.name, a.role)
                ).fetchone()[0]
            yield made
        finally:
            ids = [a.agent_id for a in made.values() if a.agent_id]
            if ids:
                su.execute("DELETE FROM memory.agents WHERE agent_id = ANY(%s)", (ids,))
            for a in made.values():
                su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(a.role)))
            try:
                r = redis_client()
                for agent_id in ids:
                    keys = list(r.scan_iter(match=f"mem:{agent_id}:*"))
                    if keys:
                        r.delete(*keys)
            except redis.RedisError:
                pass


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        REDIS_URL, password=secret("redis_password"), decode_responses=True, socket_timeout=3
    )


def keys_of(r: redis.Redis, agent_id: uuid.UUID) -> dict[str, str]:
    """Every key of the agent with its value as text."""
    out = {}
    for key in r.scan_iter(match=f"mem:{agent_id}:*"):
        kind = r.type(key)
        if kind == "string":
            out[key] = r.get(key) or ""
        elif kind == "set":
            out[key] = json.dumps(sorted(r.smembers(key)))
        elif kind == "hash":
            out[key] = json.dumps(r.hgetall(key), sort_keys=True)
    return out


def test_redis_keys_hold_only_their_own_agent(real_agents):
    alpha, beta = real_agents["alpha"], real_agents["beta"]
    r = redis_client()
    with psycopg.connect(conninfo(), autocommit=True) as su:
        for a in (alpha, beta):
            su.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(a.role)))
            # the same context type, key and label for both agents
            a.ids["working"] = su.execute(
                "SELECT memory.set_working_memory('task', jsonb_build_object('note', %s::text), '1 hour', 'high', 'shared-key')",
                (a.secret,),
            ).fetchone()[0]
            su.execute("SELECT memory.set_block('persona', %s)", (f"I am {a.secret}",))
            su.execute("RESET SESSION AUTHORIZATION")

    def cached() -> bool:
        return all(
            r.get(f"mem:{a.agent_id}:wm:{a.ids['working']}")
            and r.hget(f"mem:{a.agent_id}:blocks", "persona")
            for a in (alpha, beta)
        )

    wait_for("the daemon's cache warmer to cache both agents", cached, timeout=60, interval=0.2)
    for me, other in ((alpha, beta), (beta, alpha)):
        mine = keys_of(r, me.agent_id)
        assert set(mine) == {
            f"mem:{me.agent_id}:wm:{me.ids['working']}",
            f"mem:{me.agent_id}:wmctx:task",
            f"mem:{me.agent_id}:blocks",
        }, mine
        for key, value in mine.items():
            assert other.secret not in value, key
            assert str(other.agent_id) not in value, key
            assert str(other.ids["working"]) not in value, key
        item = json.loads(mine[f"mem:{me.agent_id}:wm:{me.ids['working']}"])
        assert (item["agent_id"], item["content"]) == (str(me.agent_id), {"note": me.secret})
        assert json.loads(mine[f"mem:{me.agent_id}:wmctx:task"]) == [str(me.ids["working"])]
        assert me.secret in json.loads(mine[f"mem:{me.agent_id}:blocks"])["persona"]
    # anywhere in Redis, an agent's secret is only under that agent's own prefix
    for a in (alpha, beta):
        for key in r.scan_iter(match="mem:*", count=1000):
            if not key.startswith(f"mem:{a.agent_id}:") and r.type(key) == "string":
                assert a.secret not in (r.get(key) or ""), key
