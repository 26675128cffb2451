"""Sharing between agents (issue 20, item 4), attacked on the real stack.

An owner shares a project, a tag and a session with a grantee; its other episodes carry
a secret word. With the real daemon's vectors and the real database, the grantee reads
exactly the three shared episodes (and their chunks) through every table and view it may
select and through every read function, writes none of them, and reads nothing of them
after unshare and after the owner is dropped; a third agent reads nothing at all; the
notifications sent meanwhile carry no identifier, and sharing itself sends none.
"""

from __future__ import annotations

import secrets
import time
import uuid

import psycopg
import pytest
from conftest import conninfo
from psycopg import sql
from test_isolation_notify import PAYLOAD_RE, drain, listen, project_channels
from test_lifetime import made, make_agent, operator  # noqa: F401  (made: a fixture)

pytestmark = pytest.mark.timeout(300)


def readable(conn: psycopg.Connection) -> list[str]:
    """Every table and view of schema memory this session may SELECT."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_catalog.pg_class AS c WHERE c.relnamespace = 'memory'::regnamespace "
            "AND c.relkind IN ('r', 'v', 'm', 'p') AND has_table_privilege(c.oid, 'SELECT') ORDER BY 1"
        ).fetchall()
    ]


def rows_of(conn: psycopg.Connection, owner: uuid.UUID | None, word: str) -> dict[str, int]:
    """Per readable relation: rows of the owner's agent_id (owner None: none), or rows whose
    text holds word."""
    out = {}
    for rel in readable(conn):
        has_agent = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'agent_id' AND NOT attisdropped)",
            (f"memory.{rel}",),
        ).fetchone()[0]
        cond = sql.SQL("t.agent_id = %s OR t::text LIKE %s" if has_agent else "t::text LIKE %s")
        params = (owner, f"%{word}%") if has_agent else (f"%{word}%",)
        if owner is None:
            cond, params = sql.SQL("t::text LIKE %s"), (f"%{word}%",)
        n = conn.execute(
            sql.SQL("SELECT count(*) FROM memory.{} AS t WHERE {}").format(
                sql.Identifier(rel), cond
            ),
            params,
        ).fetchone()[0]
        if n:
            out[rel] = n
    return out


def function_texts(conn: psycopg.Connection) -> str:
    """What every read function of an agent returns, as one text (include_shared off)."""
    calls = [
        "SELECT string_agg(s::text, ' ') FROM memory.search_episodic_memory('orion telescope night') AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.search_episodic_memory('orion telescope night', mode => 'text') AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.search_episodic_memory('orion telescope night', mode => 'vector') AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.search_episodic_memory("
        "memory.embed_query('orion telescope night'), 100, -1) AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.search_semantic_memory('orion telescope night') AS s",
        "SELECT memory.build_context('orion telescope night')::text",
        "SELECT memory.build_context_text('orion telescope night')",
        "SELECT string_agg(s::text, ' ') FROM memory.get_working_memory() AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.get_blocks() AS s",
        "SELECT string_agg(s::text, ' ') FROM memory.list_checkpoints() AS s",
    ]
    return " ".join(str(conn.execute(c).fetchone()[0]) for c in calls)


def plain(conn: psycopg.Connection) -> list[tuple]:
    """A search without include_shared, with no time-dependent term: comparable to the bit."""
    return conn.execute(
        "SELECT * FROM memory.search_episodic_memory('orion telescope night', k => 50, recency_weight => 0)"
    ).fetchall()


def wait_embedded(superconn: psycopg.Connection, agents: list, n: int) -> None:
    """Until the daemon has embedded n episodes of the agents (pooled vectors)."""
    deadline = time.monotonic() + 180
    ids = [a.agent_id for a in agents]
    sql_n = "SELECT count(*) FROM memory.pooled_embeddings WHERE agent_id = ANY(%s) AND episode_id IS NOT NULL"
    while superconn.execute(sql_n, (ids,)).fetchone()[0] < n:
        assert time.monotonic() < deadline, "the daemon did not embed the episodes"
        time.sleep(0.5)


def shared_search(conn: psycopg.Connection, mode: str = "hybrid") -> set[tuple[str, str]]:
    return {
        (r[0], r[1])
        for r in conn.execute(
            "SELECT content, owner FROM memory.search_episodic_memory('orion telescope night', k => 50, "
            "mode => %s, include_shared => true)",
            (mode,),
        ).fetchall()
    }


def test_a_grant_opens_exactly_its_scope_until_revoked_or_dropped(made, superconn):  # noqa: F811
    owner, grantee, third = (make_agent(superconn, n) for n in ("owner", "grantee", "third"))
    made.extend([owner, grantee, third])
    word = f"shared{secrets.token_hex(4)}"
    secret = f"zq7private{secrets.token_hex(4)}"
    shared = {
        f"orion telescope night {word}: the project episode",
        f"orion telescope night {word}: the tagged episode",
        f"orion telescope night {word}: the session episode",
    }
    with owner.connect() as o:
        o.execute("SELECT memory.remember(%s, project => 'orion')", (sorted(shared)[0],))
        o.execute("SELECT memory.remember(%s, tags => ARRAY['open'])", (sorted(shared)[2],))
        o.execute("SELECT memory.remember(%s, session_id => 'night-1')", (sorted(shared)[1],))
        for where in ("project => 'hidden'", "tags => ARRAY['closed']", "session_id => 'night-2'"):
            o.execute(
                f"SELECT memory.remember(%s, {where})", (f"orion telescope night {secret} {word}",)
            )
        o.execute("SELECT memory.learn_fact('orion', %s)", (f"orion telescope night {secret}",))
        o.execute("SELECT memory.set_block('persona', %s)", (f"owner {secret}",))
        o.execute("SELECT memory.set_working_memory('task', %s::jsonb)", (f'{{"s": "{secret}"}}',))
        o.execute("SELECT memory.create_checkpoint('manual', '{}')")
    with grantee.connect() as g:
        g.execute("SELECT memory.remember('orion telescope night, the grantee''s own')")
    # the daemon embeds the owner's six episodes and the grantee's one
    wait_embedded(superconn, [owner, grantee], 7)
    owner_rows = "SELECT md5(string_agg((to_jsonb(e) - 'access_count' - 'last_accessed_at')::text, ',' ORDER BY episode_id)) FROM memory.episodes AS e WHERE agent_id = %s"
    before = superconn.execute(owner_rows, (owner.agent_id,)).fetchone()[0]

    with psycopg.connect(conninfo(), autocommit=True) as listener, owner.connect() as o, \
            grantee.connect() as g, third.connect() as t:  # fmt: skip
        listen(listener, project_channels())
        drain(listener, 0.2)
        plain_before = plain(g)
        assert o.execute("SELECT memory.share('project', %s, 'orion')", (grantee.name,)).fetchone()[
            0
        ]
        assert o.execute("SELECT memory.share('tag', %s, 'open')", (grantee.name,)).fetchone()[0]
        assert o.execute(
            "SELECT memory.share('session', %s, 'night-1')", (grantee.name,)
        ).fetchone()[0]

        # the grantee: exactly the three episodes and their chunks, by every table and view
        seen = rows_of(g, owner.agent_id, word)
        assert seen.pop("shares") == 3, "the grants received"
        chunks = seen.pop("chunks")
        assert chunks >= 3
        assert seen == {"episodes": 3, "zep_episodic_memory": 3}, seen
        assert rows_of(g, None, secret) == {}, "a private row of the owner"
        texts = g.execute(
            "SELECT content FROM memory.episodes WHERE agent_id = %s", (owner.agent_id,)
        ).fetchall()
        assert {r[0] for r in texts} == shared
        # ... and by every read function: unchanged without include_shared, the three with it
        assert word not in function_texts(g), "a function without include_shared shows shared rows"
        assert plain(g) == plain_before, "a search without include_shared changed"
        for mode in ("hybrid", "text", "vector"):
            got = shared_search(g, mode)
            assert {c for c, who in got if who == owner.name} == shared, mode
            assert {who for _, who in got} == {owner.name, grantee.name}, mode
        assert (
            g.execute(
                "SELECT count(*) FROM memory.shared_with_me() WHERE owner = %s", (owner.name,)
            ).fetchone()[0]
            == 3
        )

        # the grantee writes nothing of the owner's
        ids = [
            r[0]
            for r in g.execute(
                "SELECT episode_id FROM memory.episodes WHERE agent_id = %s", (owner.agent_id,)
            ).fetchall()
        ]
        for stmt in (
            "SELECT memory.update_episode(%s, content => 'changed')",
            "SELECT memory.forget_episode(%s)",
        ):
            with pytest.raises(psycopg.errors.NoDataFound):
                g.execute(stmt, (ids[0],))
        assert g.execute("SELECT memory.mark_used(%s)", (ids,)).fetchone()[0] == 0
        assert g.execute("SELECT memory.forget_session('night-1')").fetchone()[0] == 0
        assert (
            g.execute(
                "UPDATE memory.episodes SET importance = 0 WHERE agent_id = %s", (owner.agent_id,)
            ).rowcount
            == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            g.execute("DELETE FROM memory.episodes WHERE agent_id = %s", (owner.agent_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            g.execute("DELETE FROM memory.shares")
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.episode_access_log WHERE episode_id = ANY(%s)", (ids,)
            ).fetchone()[0]
            == 0
        ), "a grantee's use reached the owner's access statistics"
        assert superconn.execute(owner_rows, (owner.agent_id,)).fetchone()[0] == before

        # a third agent: nothing, not even the grants
        assert rows_of(t, owner.agent_id, word) == {}
        assert rows_of(t, grantee.agent_id, "grantee") == {}
        assert {who for _, who in shared_search(t)} <= {third.name}

        # revoke: gone from the grantee's next statement
        assert o.execute("SELECT memory.unshare('tag', %s, 'open')", (grantee.name,)).fetchone()[0]
        assert (
            g.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (owner.agent_id,)
            ).fetchone()[0]
            == 2
        )
        for scope, value in (("project", "orion"), ("session", "night-1")):
            o.execute("SELECT memory.unshare(%s, %s, %s)", (scope, grantee.name, value))
        assert rows_of(g, owner.agent_id, word) == {}
        assert {who for _, who in shared_search(g)} == {grantee.name}

        # sharing sends no notification; whatever was sent carries no identifier
        notes = drain(listener, 1.0)
        assert all(PAYLOAD_RE.fullmatch(n.payload) for n in notes), [n.payload for n in notes]
        assert not [n for n in notes if owner.name in n.payload or str(owner.agent_id) in n.payload]

        # the export of the owner carries no grant
        o.execute("SELECT memory.share('project', %s, 'orion')", (grantee.name,))
        with operator() as op:
            lines = op.execute("SELECT * FROM memory.export_agent(%s)", (owner.name,)).fetchall()
        assert lines and not any(grantee.name in str(line) for line in lines)

    # the owner dropped: nothing of it by any path, and its grants are gone
    with operator() as op:
        op.execute("CALL memory.drop_agent(%s, confirm => %s)", (owner.name, owner.name))
    with grantee.connect() as g:
        assert rows_of(g, owner.agent_id, word) == {}
        assert {who for _, who in shared_search(g)} == {grantee.name}
        assert g.execute("SELECT count(*) FROM memory.shared_with_me()").fetchone()[0] == 0
    assert (
        superconn.execute(
            "SELECT count(*) FROM memory.shares WHERE agent_id = %s OR grantee_agent_id = %s",
            (owner.agent_id, owner.agent_id),
        ).fetchone()[0]
        == 0
    )


def test_dropping_the_grantee_removes_the_grants(made, superconn):  # noqa: F811
    owner, grantee = make_agent(superconn, "owner2"), make_agent(superconn, "grantee2")
    made.extend([owner, grantee])
    with owner.connect() as o:
        o.execute("SELECT memory.remember('to share', tags => ARRAY['open'])")
        o.execute("SELECT memory.share('tag', %s, 'open')", (grantee.name,))
    with operator() as op:
        op.execute("CALL memory.drop_agent(%s, confirm => %s)", (grantee.name, grantee.name))
    with owner.connect() as o:
        assert o.execute("SELECT count(*) FROM memory.my_shares()").fetchone()[0] == 0
        assert o.execute("SELECT count(*) FROM memory.episodes").fetchone()[0] == 1


def test_one_grantee_session_follows_every_share_and_unshare(made, superconn):  # noqa: F811
    """Membership of memory_share_grantee changes while the grantee's session keeps its
    prepared statements (memory._prepared's search plans and one of its own, planned
    before any grant): each next statement shows exactly the grants in force."""
    owner, grantee = make_agent(superconn, "owner3"), make_agent(superconn, "grantee3")
    made.extend([owner, grantee])
    word = f"vega{secrets.token_hex(4)}"
    texts = {tag: f"orion telescope night {word}: tagged {tag}" for tag in ("a", "b")}
    with owner.connect() as o:
        for tag, text in texts.items():
            o.execute("SELECT memory.remember(%s, tags => ARRAY[%s])", (text, tag))
    with grantee.connect() as g:
        g.execute("SELECT memory.remember('orion telescope night, the grantee''s own')")
    wait_embedded(superconn, [owner, grantee], 3)

    def member() -> bool:
        return superconn.execute(
            "SELECT pg_has_role(%s, 'memory_share_grantee', 'MEMBER')", (grantee.role,)
        ).fetchone()[0]

    with owner.connect() as o, grantee.connect() as g:
        g.execute("SET plan_cache_mode = force_generic_plan")
        g.execute(
            "PREPARE mine (text) AS SELECT content FROM memory.episodes WHERE strpos(content, $1) > 0"
        )

        def mine(w: str) -> set[str]:
            return {
                r[0]
                for r in g.execute(sql.SQL("EXECUTE mine ({})").format(sql.Literal(w))).fetchall()
            }

        def seen() -> set[str]:
            direct = mine(word)
            for mode in ("hybrid", "text", "vector"):
                got = {c for c, who in shared_search(g, mode) if who == owner.name}
                assert got == direct, (mode, got, direct)
            return direct

        def share(verb: str, tag: str) -> None:
            o.execute(f"SELECT memory.{verb}('tag', %s, %s)", (grantee.name, tag))

        assert seen() == set() and not member()
        share("share", "a")
        assert member() and seen() == {texts["a"]}, "a grant made after the session's plans"
        share("share", "b")
        assert seen() == {texts["a"], texts["b"]}
        share("unshare", "a")
        assert member() and seen() == {texts["b"]}, "a revoked grant while another remains"
        share("unshare", "b")
        assert not member() and seen() == set(), "the last grant revoked"
        share("share", "a")
        assert member() and seen() == {texts["a"]}, "granted again"
        # the statements stay the grantee's own: nothing else of the owner's through them
        assert mine("orion") == {
            texts["a"],
            "orion telescope night, the grantee's own",
        }
    with operator() as op:
        op.execute("CALL memory.drop_agent(%s, confirm => %s)", (owner.name, owner.name))
    assert not member(), "the owner dropped: the grantee holds no grant"
