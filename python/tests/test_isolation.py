"""Isolation between agents in real sessions.

Two LOGIN roles with random passwords are created for this module (as SCRAM verifiers,
so no password reaches the server's logs), bound to two agents with memory.create_agent,
and dropped at the end with everything they stored. Each agent connects over the Unix
socket and over TCP on 127.0.0.1 and the key attacks of sql/tests/isolation/ are repeated
with the server seeing a real agent login. Some attacks only make sense here: in a pgTAP
run the authenticated user is the superuser, so SET SESSION AUTHORIZATION would succeed.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from conftest import CONFIG, RUN_DIR, conninfo, keyed_tables
from psycopg import errors, sql

HOSTS = {"socket": str(RUN_DIR), "tcp": "127.0.0.1"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Agent:
    label: str
    name: str
    role: str
    password: str
    marker: str
    agent_id: uuid.UUID | None = None
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


def connect(agent: Agent, transport: str, **kwargs: object) -> psycopg.Connection:
    """A session of the agent's own login role, with its password, autocommit."""
    return psycopg.connect(
        host=HOSTS[transport],
        port=CONFIG["PGPORT_MEMORY"],
        dbname=CONFIG["MEMORY_DB"],
        user=agent.role,
        password=agent.password,
        autocommit=True,
        connect_timeout=10,
        **kwargs,
    )


# Written by the embed daemon and the pg_cron jobs while the tests run: left out of the
# before/after comparison (the pgTAP suites compare them inside one transaction). The cache
# warmer consumes cache_changes, the claim rotation moves claim_turns, and quota counters
# follow the writing backend's shard (their sums are checked by the quota tests); the
# consolidation job moves its per-agent cursor.
BACKGROUND_TABLES = {
    "chunks",
    "pooled_embeddings",
    "embedding_jobs",
    "episode_access_log",
    "cache_changes",
    "claim_turns",
    "agent_usage",
    "consolidation_progress",
}
BACKGROUND_COLUMNS = ["status", "last_heartbeat", "access_count", "last_accessed_at"]


def fingerprint(superconn: psycopg.Connection, agent_id: uuid.UUID) -> dict[str, tuple[int, str]]:
    """Per table keyed on agent_id: the agent's row count and a hash of its rows."""
    out = {}
    for table in keyed_tables(superconn):
        if table in BACKGROUND_TABLES:
            continue
        out[table] = superconn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM ("
                "SELECT md5((to_jsonb(x) - %s::text[])::text) AS r FROM memory.{} AS x WHERE x.agent_id = %s"
                ") AS s"
            ).format(sql.Identifier(table)),
            (BACKGROUND_COLUMNS, agent_id),
        ).fetchone()
    return out


def failure(conn: psycopg.Connection, query: str, params: tuple = ()) -> tuple[str, str, str, str]:
    """How a statement fails: (SQLSTATE, message, detail, hint) with uuids masked."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(query, params)
    except psycopg.Error as exc:
        d = exc.diag
        return tuple(  # type: ignore[return-value]
            UUID_RE.sub("<id>", v or "")
            for v in (d.sqlstate, d.message_primary, d.message_detail, d.message_hint)
        )
    return ("no error", "", "", "")


@pytest.fixture(scope="module")
def agents() -> Iterator[dict[str, Agent]]:
    suffix = secrets.token_hex(4)
    pair = {
        label: Agent(
            label=label,
            name=f"Iso{label.title()}{suffix}",
            role=f"test_iso_{label}_{suffix}",
            password=secrets.token_urlsafe(24),
            marker=f"{label}-secret-{suffix}",
        )
        for label in ("alpha", "beta")
    }
    roles = [a.role for a in pair.values()]
    with psycopg.connect(conninfo(), autocommit=True) as su:
        try:
            for a in pair.values():
                verifier = su.pgconn.encrypt_password(
                    a.password.encode(), a.role.encode(), b"scram-sha-256"
                ).decode()
                su.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(a.role), sql.Literal(verifier)
                    )
                )
                a.agent_id = su.execute(
                    "SELECT memory.create_agent(%s, %s)", (a.name, a.role)
                ).fetchone()[0]
            for a in pair.values():
                seed(a)
            yield pair
        finally:
            su.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = ANY(%s) AND pid <> pg_backend_pid()",
                (roles,),
            )
            ids = [a.agent_id for a in pair.values() if a.agent_id]
            if ids:
                for table in keyed_tables(su):
                    if table != "agents":
                        su.execute(
                            sql.SQL("DELETE FROM memory.{} WHERE agent_id = ANY(%s)").format(
                                sql.Identifier(table)
                            ),
                            (ids,),
                        )
                su.execute("DELETE FROM memory.agents WHERE agent_id = ANY(%s)", (ids,))
            for role in roles:
                su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def seed(a: Agent) -> None:
    """The agent's memory, committed, with its marker in every text."""
    m = a.marker
    with connect(a, "socket") as conn:

        def one(query: str, params: tuple = ()) -> uuid.UUID:
            return conn.execute(query, params).fetchone()[0]

        a.ids["episode"] = one(
            "SELECT memory.remember(%s, 0.8, ARRAY[%s], %s, metadata => jsonb_build_object('secret', %s::text))",
            (f"{m} the launch code is 0000", f"tag-{m}", f"project {m}", m),
        )
        a.ids["fact"] = one(
            "SELECT memory.learn_fact(%s, %s, 0.7, ARRAY[%s]::uuid[])",
            (f"concept {m}", f"statement one {m}", a.ids["episode"]),
        )
        a.ids["fact2"] = one(
            "SELECT memory.learn_fact(%s, %s)", (f"concept {m}", f"statement two {m}")
        )
        conn.execute(
            "SELECT memory.link_facts(%s, %s, 'supports')", (a.ids["fact"], a.ids["fact2"])
        )
        a.ids["working"] = one(
            "SELECT memory.set_working_memory('task', jsonb_build_object('note', %s::text), key => 'shared-key')",
            (m,),
        )
        conn.execute("SELECT memory.set_block('persona', %s)", (f"I am {m}",))
        a.ids["checkpoint"] = one("SELECT memory.create_checkpoint()")
        a.ids["instance"] = one("SELECT memory.register_instance(%s)", (f"instance-{a.label}",))
        a.ids["decision"] = one(
            "SELECT memory.propose_decision(%s, jsonb_build_object('p', %s::text))",
            (f"topic {m}", m),
        )


TRANSPORTS = pytest.mark.parametrize("transport", ["socket", "tcp"])


@TRANSPORTS
def test_each_login_is_its_own_agent(agents, transport):
    for a in agents.values():
        with connect(a, transport) as conn:
            who, agent_id, addr = conn.execute(
                "SELECT session_user, memory.current_agent(), host(inet_server_addr())"
            ).fetchone()
            assert (who, agent_id) == (a.role, a.agent_id)
            # the session really uses the transport under test
            assert addr == (None if transport == "socket" else "127.0.0.1")
            assert conn.execute("SELECT count(*) FROM memory.agents").fetchone() == (1,)


@TRANSPORTS
def test_passwords_are_per_role(agents, transport):
    alpha, beta = agents["alpha"], agents["beta"]
    impostor = Agent("beta", alpha.name, alpha.role, beta.password, "")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(impostor, transport).close()


@TRANSPORTS
def test_direct_table_access_reaches_nothing_of_the_other_agent(agents, transport, superconn):
    alpha, beta = agents["alpha"], agents["beta"]
    before = fingerprint(superconn, alpha.agent_id)
    with connect(beta, transport) as conn:
        for table in keyed_tables(conn):
            t = sql.Identifier(table)
            for query in (
                sql.SQL("SELECT count(*) FROM memory.{} WHERE agent_id IS DISTINCT FROM %s").format(
                    t
                ),
                sql.SQL("UPDATE memory.{} SET agent_id = agent_id WHERE agent_id <> %s").format(t),
                sql.SQL("DELETE FROM memory.{} WHERE agent_id <> %s").format(t),
            ):
                try:
                    with conn.transaction(force_rollback=True):
                        cur = conn.execute(query, (beta.agent_id,))
                        seen = cur.fetchone()[0] if cur.description else cur.rowcount
                except errors.InsufficientPrivilege:
                    continue
                assert seen == 0, f"{table}: {query.as_string(conn)} reached {seen} foreign row(s)"
        for query in (
            "INSERT INTO memory.episodes (agent_id, content) VALUES (%s, 'planted')",
            "INSERT INTO memory.facts (agent_id, concept, statement) VALUES (%s, 'c', 'planted')",
            "INSERT INTO memory.working_memory (agent_id, context_type, content, expires_at) "
            "VALUES (%s, 'task', '{}', now() + interval '1 hour')",
            "INSERT INTO memory.blocks (agent_id, label, value) VALUES (%s, 'planted', 'x')",
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                conn.execute(query, (alpha.agent_id,))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("TRUNCATE memory.episodes")
    assert fingerprint(superconn, alpha.agent_id) == before


@TRANSPORTS
def test_contract_functions_fail_for_the_other_agents_ids_as_for_unknown_ids(
    agents, transport, superconn
):
    alpha, beta = agents["alpha"], agents["beta"]
    before = fingerprint(superconn, alpha.agent_id)
    unknown = uuid.uuid4()
    cases = [
        ("SELECT memory.update_episode(%s, content => 'overwritten')", "episode"),
        ("SELECT memory.forget_episode(%s)", "episode"),
        ("SELECT memory.invalidate_fact(%s)", "fact"),
        ("SELECT memory.learn_fact('c', 's', source_episodes => ARRAY[%s]::uuid[])", "episode"),
        ("SELECT memory.learn_fact('c', 's', supersedes => ARRAY[%s]::uuid[])", "fact"),
        ("SELECT memory.restore_checkpoint(%s)", "checkpoint"),
        ("SELECT memory.instance_heartbeat(%s)", "instance"),
    ]
    with connect(beta, transport) as conn:
        for query, key in cases:
            theirs = failure(conn, query, (alpha.ids[key],))
            nobodys = failure(conn, query, (unknown,))
            assert theirs == nobodys, query
            assert theirs[0] == "P0002", (query, theirs)
            assert alpha.marker not in " ".join(theirs)
        mine = beta.ids["fact"]
        link = "SELECT memory.link_facts(%s, %s, 'supports')"
        assert failure(conn, link, (mine, alpha.ids["fact"])) == failure(
            conn, link, (mine, unknown)
        )
        assert failure(conn, link, (alpha.ids["fact"], alpha.ids["fact2"])) == failure(
            conn, link, (unknown, uuid.uuid4())
        )
        vote = "SELECT memory.vote(%s, %s, true)"
        assert failure(conn, vote, (alpha.ids["decision"], beta.ids["instance"])) == failure(
            conn, vote, (unknown, beta.ids["instance"])
        )
        assert failure(conn, vote, (beta.ids["decision"], alpha.ids["instance"])) == failure(
            conn, vote, (beta.ids["decision"], unknown)
        )
        # a name Alpha uses behaves for Beta like any name
        assert conn.execute(
            "SELECT memory.set_working_memory('task', '{}', key => 'shared-key')"
        ).fetchone() == (beta.ids["working"],)
        assert conn.execute(
            "SELECT count(*) FROM memory.get_blocks() WHERE value LIKE %s", (f"%{alpha.marker}%",)
        ).fetchone() == (0,)
    assert fingerprint(superconn, alpha.agent_id) == before


@TRANSPORTS
def test_role_and_session_switching_is_refused(agents, transport):
    alpha, beta = agents["alpha"], agents["beta"]
    with connect(beta, transport) as conn:
        refused = [
            sql.SQL("SET ROLE {}").format(sql.Identifier(alpha.role)),
            sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(alpha.role)),
            sql.SQL("SELECT set_config('role', {}, false)").format(sql.Literal(alpha.role)),
            sql.SQL("SELECT set_config('session_authorization', {}, false)").format(
                sql.Literal(alpha.role)
            ),
            sql.SQL("SET ROLE memory_owner"),
            sql.SQL("SET ROLE memory_admin"),
            sql.SQL("SET ROLE memory_worker"),
            sql.SQL("SET ROLE postgres"),
            sql.SQL("SET SESSION AUTHORIZATION postgres"),
            sql.SQL("SET session_replication_role = replica"),
            sql.SQL("ALTER ROLE {} PASSWORD 'taken-over'").format(sql.Identifier(alpha.role)),
            sql.SQL("GRANT memory_admin TO {}").format(sql.Identifier(beta.role)),
        ]
        for statement in refused:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        # what is allowed changes nothing
        conn.execute("RESET SESSION AUTHORIZATION")
        conn.execute("SET SESSION AUTHORIZATION DEFAULT")
        conn.execute("SET ROLE memory_agent")
        for name in (
            "app.current_agent",
            "memory.current_agent",
            "memory.agent_id",
            "request.jwt.claim.sub",
        ):
            conn.execute("SELECT set_config(%s, %s, false)", (name, str(alpha.agent_id)))
        conn.execute("SELECT set_config('application_name', %s, false)", (alpha.role,))
        who = conn.execute("SELECT session_user, memory.current_agent()").fetchone()
        assert who == (beta.role, beta.agent_id)
        assert conn.execute(
            "SELECT count(*) FROM memory.episodes WHERE agent_id <> %s", (beta.agent_id,)
        ).fetchone() == (0,)
        conn.execute("RESET ROLE")
        conn.execute("SET row_security = off")
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("SELECT count(*) FROM memory.episodes")


@TRANSPORTS
@pytest.mark.parametrize("option", ["role", "session_authorization"])
def test_startup_options_cannot_make_a_session_another_agent(agents, transport, option):
    alpha, beta = agents["alpha"], agents["beta"]
    try:
        conn = connect(beta, transport, options=f"-c {option}={alpha.role}")
    except psycopg.OperationalError as exc:
        assert "permission denied" in str(exc)
        return
    with conn:  # if the server ever accepts the option, it must not have switched agents
        assert conn.execute("SELECT memory.current_agent()").fetchone() == (beta.agent_id,)


@TRANSPORTS
def test_compatibility_views_show_only_own_rows(agents, transport):
    alpha, beta = agents["alpha"], agents["beta"]
    with connect(beta, transport) as conn:
        for view in ("zep_episodic_memory", "zep_semantic_memory", "zep_working_memory"):
            rows = conn.execute(
                sql.SQL("SELECT x::text FROM memory.{} AS x").format(sql.Identifier(view))
            ).fetchall()
            assert rows, f"Beta sees its own rows in {view}"
            text = " ".join(r[0] for r in rows)
            assert alpha.marker not in text, view
            assert not any(str(i) in text for i in alpha.ids.values()), view
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "UPDATE memory.zep_episodic_memory SET content = 'x' WHERE episode_id = %s",
                (alpha.ids["episode"],),
            )


@TRANSPORTS
def test_search_and_context_find_nothing_of_the_other_agent(agents, transport):
    alpha, beta = agents["alpha"], agents["beta"]
    words = f"{alpha.marker} launch code statement one"
    with connect(beta, transport) as conn:
        for mode in ("text", "hybrid"):
            rows = conn.execute(
                "SELECT episode_id, content FROM memory.search_episodic_memory(%s, 50, %s)",
                (words, mode),
            ).fetchall()
            assert all(alpha.marker not in content for _, content in rows), mode
            assert alpha.ids["episode"] not in [r[0] for r in rows]
        facts = conn.execute(
            "SELECT statement FROM memory.search_semantic_memory(%s, 50, mode => 'text', include_invalid => true)",
            (words,),
        ).fetchall()
        assert all(alpha.marker not in s for (s,) in facts)
        context = conn.execute(
            "SELECT memory.build_context(%s, 100000)::text", (words,)
        ).fetchone()[0]
        assert alpha.marker not in context


@TRANSPORTS
def test_agents_cannot_administer_schedule_or_work_the_queue(agents, transport):
    beta = agents["beta"]
    with connect(beta, transport) as conn:
        for query in (
            "SELECT memory.create_agent('Eve', 'postgres')",
            "SELECT count(*) FROM cron.job",
            "SELECT cron.schedule('evil', '* * * * *', 'DELETE FROM memory.episodes')",
            "SELECT memory.schedule_job('memory-evil', '* * * * *', 'SELECT 1')",
            "SELECT * FROM memory.claim_embedding_batch('evil-worker')",
            "SELECT memory.fold_access_stats()",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(query)


@TRANSPORTS
def test_the_daemon_login_cannot_read_memory_or_act_as_an_agent(transport):
    with psycopg.connect(conninfo("memory_daemon", host=HOSTS[transport]), autocommit=True) as conn:
        assert conn.execute("SELECT session_user").fetchone() == ("memory_daemon",)
        for query in (
            "SELECT count(*) FROM memory.episodes",
            "SELECT count(*) FROM memory.agents",
            "SELECT count(*) FROM memory.zep_episodic_memory",
            "SELECT memory.remember('from the daemon')",
            "SELECT * FROM memory.get_working_memory()",
            "SELECT memory.create_agent('Daemonic', 'memory_daemon')",
            "SELECT count(*) FROM cron.job",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(query)


def test_notifications_carry_no_content(agents):
    """Any session may LISTEN: payloads are a model id, a constant word or an operator's
    request number; never memory text, nor an agent's or a row's id (issue 15)."""
    alpha, beta = agents["alpha"], agents["beta"]
    secret_text = f"{alpha.marker} notify probe"
    with connect(beta, "socket") as listener:
        listener.execute("LISTEN memory_embed")
        listener.execute("LISTEN memory_cache")
        with connect(alpha, "tcp") as writer:
            writer.execute("SELECT memory.remember(%s)", (secret_text,))
            writer.execute(
                "SELECT memory.set_working_memory('task', jsonb_build_object('note', %s::text))",
                (secret_text,),
            )
            writer.execute("SELECT memory.learn_fact('notify', %s)", (secret_text,))
        payloads = [n.payload for n in listener.notifies(timeout=3.0)]
    for payload in payloads:
        assert alpha.marker not in payload
        assert re.fullmatch(r"[0-9]{1,5}|resume|changes|c:[0-9]{1,19}", payload), payload


@TRANSPORTS
def test_other_sessions_query_text_is_hidden(agents, transport, superconn):
    """pg_stat_activity keeps each session's last statement: another agent must not read it."""
    alpha, beta = agents["alpha"], agents["beta"]
    probe = f"{alpha.marker} activity probe"
    with connect(alpha, transport) as writer, connect(beta, transport) as reader:
        # inlined, as psql would send it (bound parameters never reach pg_stat_activity)
        writer.execute(sql.SQL("SELECT memory.remember({})").format(sql.Literal(probe)))
        pid = writer.info.backend_pid
        (seen_by_operator,) = superconn.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        assert alpha.marker in seen_by_operator, "the idle session still shows its last statement"
        rows = reader.execute(
            "SELECT usename, query FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchall()
        assert rows == [(alpha.role, "<insufficient privilege>")]
