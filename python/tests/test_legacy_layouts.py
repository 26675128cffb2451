"""The old brain in each layout the seeds show (issue 20), imported through
postgres_fdw by scripts/import-legacy.sh, each ending with the verification report.

- orchestrator: nexus_memory.zep_episodic_memory keyed by uuid, no "timestamp";
- memory-system: memory_system.episodes (id, occurred_at, importance, ...);
- the architecture-v2 layout is test_legacy_import.py's;
- an unknown layout is refused, naming the missing column, before anything is written,
  and imports with the operator's column map.

Each layout's fixture has the 4,704 episodes of scripts/legacy-fixture.py; the agents
are erased with memory.drop_agent afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from conftest import conninfo
from psycopg import sql
from test_legacy_import import EPISODES, FIXTURE, IMPORT, PY, run

pytestmark = pytest.mark.timeout(900)
READER = "pytest_layout_reader"


def legacy(pg_env: dict[str, str], db: str, layout: str, episodes: int = EPISODES) -> dict:
    made = run(
        [PY, str(FIXTURE), "--dbname", db, "--reader", READER, "--replace",
         "--layout", layout, "--episodes", str(episodes)],
        pg_env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def import_layout(pg_env: dict[str, str], db: str, agent: str, *extra: str):
    return run(
        [*IMPORT, "--agent", agent, "--role", f"{agent.lower()}_role", "--server", db,
         "--dbname", db, "--user", READER, "--batch", "2000", *extra],
        pg_env,
    )  # fmt: skip


def cleanup(agent: str, server: str) -> None:
    """Erases the agent with memory.drop_agent, then its role and the foreign server."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        if su.execute("SELECT 1 FROM memory.agents WHERE name = %s", (agent,)).fetchone():
            su.execute("CALL memory.drop_agent(%s, confirm => %s)", (agent, agent))
        su.execute("DELETE FROM memory.agent_drops WHERE agent_name = %s", (agent,))
        su.execute(
            sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"{agent.lower()}_role"))
        )
        su.execute(sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(server)))


def fresh(agent: str, server: str) -> None:
    """Nothing left by an earlier run; a new NOLOGIN role that the import binds."""
    cleanup(agent, server)
    with psycopg.connect(conninfo(), autocommit=True) as su:
        su.execute(
            sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(f"{agent.lower()}_role"))
        )


@pytest.fixture(scope="module")
def old_dbs(pg_env: dict[str, str]) -> Iterator[None]:
    """The embed daemon is paused meanwhile: the imported episodes are erased at once, and
    embedding them (test_legacy_import.py covers it) would only load the machine."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        su.execute("SELECT memory.pause_embedding('test_legacy_layouts')")
    try:
        yield
    finally:
        with psycopg.connect(conninfo(), autocommit=True) as su:
            su.execute("SELECT memory.resume_embedding()")
    for db in ("pytest_layout_orch", "pytest_layout_memsys", "pytest_layout_unknown"):
        run([PY, str(FIXTURE), "--dbname", db, "--reader", READER, "--drop"], pg_env)


@pytest.mark.parametrize(
    ("layout", "db", "agent"),
    [
        ("orchestrator", "pytest_layout_orch", "LayoutOrch"),
        ("memory-system", "pytest_layout_memsys", "LayoutMemsys"),
    ],
)
def test_each_layout_imports_whole_with_a_clean_report(
    old_dbs, pg_env, superconn, layout, db, agent
):
    fresh(agent, db)
    made = legacy(pg_env, db, layout)
    assert made["episodes"] == EPISODES and made["layout"] == layout
    try:
        done = import_layout(pg_env, db, agent)
        # exit 0: the report finds nothing missing, duplicated or different
        assert done.returncode == 0, done.stderr[-3000:]
        me = superconn.execute(
            "SELECT agent_id FROM memory.agents WHERE name = %s", (agent,)
        ).fetchone()[0]
        rows = {
            r[0]: r[1:]
            for r in superconn.execute(
                "SELECT item, old_rows, new_rows, missing_in_new, extra_in_new, checksum_diffs "
                "FROM memory.legacy_import_report(%s, %s)",
                (db, agent),
            ).fetchall()
        }
        episodes = next(v for k, v in rows.items() if k.startswith("episodes"))
        assert episodes[:5] == (EPISODES, EPISODES, 0, 0, 0), rows
        # the old ids are kept: the same set, hashed the same way as the fixture's summary
        ours = superconn.execute(
            "SELECT encode(sha256(convert_to(string_agg(episode_id::text || ':' || content, E'\\n' "
            "ORDER BY episode_id), 'UTF8')), 'hex') FROM memory.episodes WHERE agent_id = %s",
            (me,),
        ).fetchone()[0]
        assert ours == made["episodes_sha256"]
    finally:
        cleanup(agent, db)


def test_unknown_layout_is_refused_before_anything_is_written_then_mapped(
    old_dbs, pg_env, superconn
):
    db, agent = "pytest_layout_unknown", "LayoutUnknown"
    fresh(agent, db)
    legacy(pg_env, db, "memory-system", episodes=40)
    with psycopg.connect(conninfo(dbname=db), autocommit=True) as old:
        old.execute("ALTER TABLE memory_system.episodes RENAME COLUMN content TO body")
    try:
        refused = import_layout(pg_env, db, agent)
        assert refused.returncode == 2
        assert (
            "unknown layout of the legacy table memory_system.episodes: no column content"
            in refused.stderr
        )
        assert '"content": "<old column>"' in refused.stderr, (
            "the hint shows the column map to pass"
        )
        me = superconn.execute(
            "SELECT agent_id FROM memory.agents WHERE name = %s", (agent,)
        ).fetchone()[0]
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (me,)
            ).fetchone()[0]
            == 0
        )
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.legacy_imports WHERE server_name = %s", (db,)
            ).fetchone()[0]
            == 0
        ), "no progress row: nothing was written"

        mapped = import_layout(
            pg_env, db, agent, "--column-map", '{"episodes": {"content": "body"}}'
        )
        assert mapped.returncode == 0, mapped.stderr[-3000:]
        assert (
            superconn.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s", (me,)
            ).fetchone()[0]
            == 40
        )
        assert superconn.execute(
            "SELECT column_map FROM memory.legacy_imports WHERE server_name = %s", (db,)
        ).fetchone()[0] == {"episodes": {"content": "body"}}
    finally:
        cleanup(agent, db)
