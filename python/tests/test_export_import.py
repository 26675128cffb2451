"""Export and import of an agent, end to end, with the scripts and the real daemon.

An agent with varied memory (long and Spanish episodes, superseded and invalidated
facts and their links, blocks with history, checkpoints and a restore, working memory,
state, an instance with a decision and a vote) is embedded by the daemon and exported
with scripts/export-agent.sh. It is imported into a fresh database under another name
and exported again: the two files are equal but for the agent's name and id. In the
same database under a new name the ids are remapped, deterministically. A file of
another model is re-embedded; malformed files are refused with nothing written.
Every database, role and agent made here is removed at the end.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, conninfo
from psycopg import errors, sql

SUFFIX = secrets.token_hex(3)
ALPHA, ALPHA_ROLE = f"PortAlpha{SUFFIX}", f"pytest_port_alpha_{SUFFIX}"
BETA, BETA_ROLE = f"PortBeta{SUFFIX}", f"pytest_port_beta_{SUFFIX}"
GAMMA, GAMMA_ROLE = f"PortGamma{SUFFIX}", f"pytest_port_gamma_{SUFFIX}"
DELTA, DELTA_ROLE = f"PortDelta{SUFFIX}", f"pytest_port_delta_{SUFFIX}"
BAD, BAD_ROLE = f"PortBad{SUFFIX}", f"pytest_port_bad_{SUFFIX}"
ROLES = [ALPHA_ROLE, BETA_ROLE, GAMMA_ROLE, DELTA_ROLE, BAD_ROLE]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EXPORT = ["bash", str(ROOT / "scripts" / "export-agent.sh")]
IMPORT = ["bash", str(ROOT / "scripts" / "import-agent.sh")]


def forget(names: list[str], roles: list[str]) -> None:
    """Deletes agents with all their memory, then roles, on a fresh connection.

    The embed daemon may be storing vectors of these agents meanwhile: the cascade can
    deadlock with it, and is tried again.
    """
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        for attempt in range(20):
            try:
                conn.execute("DELETE FROM memory.agents WHERE name = ANY(%s)", (names,))
                break
            except errors.DeadlockDetected:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def export(env: dict[str, str], agent: str, out: Path, db: str | None = None) -> list[str]:
    args = [*EXPORT, "--agent", agent, "--out", str(out)] + (["--memory-db", db] if db else [])
    result = run(args, env)
    assert result.returncode == 0, result.stderr
    return out.read_text().splitlines()


def import_file(env: dict[str, str], path: Path, *args: str) -> dict:
    result = run([*IMPORT, str(path), *args], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def reseal(lines: list[str]) -> str:
    """The header again for an edited body: counts, line count, sha256."""
    header = json.loads(lines[0])
    body = "".join(line + "\n" for line in lines[1:])
    types = Counter()
    for line in lines[1:]:
        m = re.match(r'\{"type" ?: ?"([a-z_]+)"', line)
        if m:
            types[m.group(1)] += 1
    header["counts"] = {k: types.get(k, 0) for k in header["counts"]}
    header["lines"] = len(lines) - 1
    header["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps(header) + "\n" + body


def wait_embedded(conn: psycopg.Connection, name: str, timeout: float = 600) -> None:
    t0 = time.monotonic()
    while True:
        pending, dead = conn.execute(
            """
            SELECT count(*) FILTER (WHERE j.state IN ('pending', 'processing')), count(*) FILTER (WHERE j.state = 'dead')
            FROM memory.embedding_jobs AS j JOIN memory.agents AS a USING (agent_id) WHERE a.name = %s
            """,
            (name,),
        ).fetchone()
        assert dead == 0
        if pending == 0:
            return
        assert time.monotonic() - t0 < timeout, f"{pending} job(s) of {name} still pending"
        time.sleep(1)


def seed(conn: psycopg.Connection, role: str) -> None:
    """Fills the agent's memory through the API, as the agent."""
    conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(role)))
    try:
        ep = []
        texts = [
            "Debugged the embeddings worker with Ricardo: 0 of 4,704 episodes had vectors.",
            "Hoy revisamos la migración del cerebro; PostgreSQL es la fuente de verdad. ¿Y Redis? Solo caché 🧬",
            'Quotes "inside", a backslash \\ and a tab\there, and a newline\nin the middle.',
            "Session transcript\n\n"
            + "NEXUS: we never truncate texts, we chunk them with overlap. " * 120,
            "Sesión larga — " + "Ricardo guía, NEXUS ejecuta; la memoria no se pierde. " * 40,
        ]
        for i in range(24):
            text = texts[i % len(texts)] + f" (entry {i})"
            ep.append(
                conn.execute(
                    "SELECT memory.remember(%s, %s::real, %s::text[], %s, %s::timestamptz, %s::jsonb, %s)",
                    (
                        text,
                        round(0.1 + (i % 9) / 10, 2),
                        ["migration", f"t{i % 4}"] if i % 3 else [],
                        ["brain", "aria-mesh", None][i % 3],
                        f"2025-08-{1 + i:02d} 10:{i:02d}:00+00",
                        json.dumps({"seq": i, "source": "pytest"}),
                        f"session-{i % 5}" if i % 2 else None,
                    ),
                ).fetchone()[0]
            )
        f1 = conn.execute(
            "SELECT memory.learn_fact('Redis', 'a cache in front of PostgreSQL', 0.6, %s)",
            (ep[:2],),
        ).fetchone()[0]
        f2 = conn.execute(
            "SELECT memory.learn_fact('Redis', 'a cache, never the source of truth', 0.9, '{}', now(), %s)",
            ([f1],),
        ).fetchone()[0]
        f3 = conn.execute(
            "SELECT memory.learn_fact('PostgreSQL', 'the source of truth', 1)"
        ).fetchone()[0]
        f4 = conn.execute(
            "SELECT memory.learn_fact('port 8001', 'ARIA listens on port 8001', 0.4, '{}', '2025-08-01')"
        ).fetchone()[0]
        conn.execute("SELECT memory.invalidate_fact(%s)", (f4,))
        conn.execute("SELECT memory.link_facts(%s, %s, 'depends_on', 0.8)", (f2, f3))
        conn.execute("SELECT memory.link_facts(%s, %s, 'part_of')", (f3, f2))
        conn.execute("SELECT memory.set_block('persona', 'technical implementer')")
        conn.execute(
            "SELECT memory.set_block('persona', 'technical implementer, debugging instinct 0.9', 'who I am')"
        )
        conn.execute("SELECT memory.set_block('ricardo', 'strategic guardian', NULL, 500, true)")
        cp = conn.execute(
            "SELECT memory.create_checkpoint('manual', '{\"note\": \"before the move\"}')"
        ).fetchone()[0]
        conn.execute("SELECT memory.set_block('persona', 'something else entirely')")
        conn.execute("SELECT memory.restore_checkpoint(%s)", (cp,))
        conn.execute(
            "SELECT memory.set_working_memory('task', '{\"step\": 3}', '6 hours', 'high', 'current')"
        )
        conn.execute("SELECT memory.set_working_memory('conversation', '[\"hola\", 2]', '2 days')")
        conn.execute(
            "SELECT memory.heartbeat('the move', '{\"calm\": 0.7}', '{\"open\": [\"issue 7\"]}')"
        )
        inst = conn.execute("SELECT memory.register_instance('terminal-1')").fetchone()[0]
        dec = conn.execute(
            "SELECT memory.propose_decision('adopt the new brain', '{\"when\": \"now\"}')"
        ).fetchone()[0]
        conn.execute("SELECT memory.vote(%s, %s, true)", (dec, inst))
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")


@pytest.fixture(scope="module")
def alpha(pg_env, tmp_path_factory) -> Iterator[dict]:
    """Agent Alpha with its memory embedded, and its export."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        try:
            su.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ALPHA_ROLE)))
            alpha_id = su.execute(
                "SELECT memory.create_agent(%s, %s)", (ALPHA, ALPHA_ROLE)
            ).fetchone()[0]
            seed(su, ALPHA_ROLE)
            wait_embedded(su, ALPHA)
            path = tmp_path_factory.mktemp("export") / "alpha.ndjson"
            lines = export(pg_env, ALPHA, path)
            yield {"id": alpha_id, "path": path, "lines": lines}
        finally:
            forget([ALPHA, BETA, GAMMA, DELTA, BAD], [])


@pytest.fixture(scope="module")
def fresh_db(superconn_module, pg_env) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh memory database (all migrations), dropped afterwards with the test roles."""
    name = f"pytest_port_{SUFFIX}"
    superconn_module.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = dict(pg_env, PGDATABASE=name)
    try:
        migrated = run(["bash", str(ROOT / "scripts" / "migrate.sh")], env)
        assert migrated.returncode == 0, migrated.stderr
        yield name, env
    finally:
        superconn_module.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def superconn_module() -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        for role in ROLES[1:]:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        try:
            yield conn
        finally:
            forget([BETA, GAMMA, DELTA, BAD], ROLES[1:])


@pytest.fixture(scope="module", autouse=True)
def drop_alpha_role(superconn_module) -> Iterator[None]:
    yield
    forget([ALPHA], [ALPHA_ROLE])


# ---------------------------------------------------------------------------------------
def test_export_is_checked_ndjson(alpha):
    lines = alpha["lines"]
    header = json.loads(lines[0])
    assert list(header)[:2] == ["format", "version"]
    assert (header["format"], header["version"]) == ("agent-memory-export", 1)
    assert header["agent"] == {"name": ALPHA, "agent_id": str(alpha["id"])}
    assert header["lines"] == len(lines) - 1
    body = "".join(line + "\n" for line in lines[1:])
    assert hashlib.sha256(body.encode()).hexdigest() == header["sha256"]
    records = [json.loads(line) for line in lines[1:]]
    assert all(next(iter(r)) == "type" for r in records), "type comes first"
    assert Counter(r["type"] for r in records) == {k: v for k, v in header["counts"].items() if v}
    assert header["counts"]["episode"] == 24 and header["counts"]["fact"] == 4
    assert header["counts"]["embedding"] == 28, "every episode and fact has its vectors"
    assert header["models"] == [
        {
            "name": "all-MiniLM-L6-v2",
            "dimensions": 384,
            "max_tokens": 256,
            "chunk_tokens": 200,
            "chunk_overlap": 32,
        }
    ]
    long = [r for r in records if r["type"] == "embedding" and r["chunk_count"] > 1]
    assert long and all(len(c["embedding"]) == 384 for r in long for c in r["chunks"])
    closed = [r for r in records if r["type"] == "fact" and r["valid_to"]]
    assert len(closed) == 2 and sum(1 for r in closed if r["superseded_by"]) == 1
    assert [
        r["version"] for r in records if r["type"] == "block_version" and r["label"] == "persona"
    ] == [1, 2, 3, 4]


def test_round_trip_into_a_fresh_database_under_another_name(alpha, fresh_db, pg_env, tmp_path):
    name, env = fresh_db
    summary = import_file(
        env, alpha["path"], "--as", BETA, "--role", BETA_ROLE, "--memory-db", name
    )
    assert summary["agent_created"] and not summary["remapped_ids"]
    assert summary["vectors_reused"] == 28 and summary["queued_for_embedding"] == 0
    assert summary["models_missing"] == []
    again = export(env, BETA, tmp_path / "beta.ndjson", db=name)
    original = alpha["lines"]
    h1, h2 = json.loads(original[0]), json.loads(again[0])
    assert h2["agent"]["name"] == BETA
    assert {k: v for k, v in h1.items() if k not in ("agent", "sha256")} == {
        k: v for k, v in h2.items() if k not in ("agent", "sha256")
    }
    beta_id = h2["agent"]["agent_id"]
    assert again[1:] == [line.replace(str(alpha["id"]), beta_id) for line in original[1:]]

    # importing the same file again writes nothing and changes nothing
    second = import_file(env, alpha["path"], "--as", BETA, "--memory-db", name)
    assert second["rows_written"] == 0 and second["vectors_reused"] == 0
    assert export(env, BETA, tmp_path / "beta2.ndjson", db=name) == again


def test_same_database_under_a_new_name_remaps_ids(alpha, superconn_module, pg_env, tmp_path):
    summary = import_file(pg_env, alpha["path"], "--as", GAMMA, "--role", GAMMA_ROLE)
    assert (
        summary["remapped_ids"]
        and summary["vectors_reused"] == 28
        and summary["queued_for_embedding"] == 0
    )
    gamma_id = summary["agent_id"]
    copy = export(pg_env, GAMMA, tmp_path / "gamma.ndjson")
    ids = sorted(set(UUID.findall("\n".join(alpha["lines"][1:]))) - {str(alpha["id"])})
    mapped = dict(
        superconn_module.execute(
            "SELECT u::text, memory._remap_id(%s, u)::text FROM unnest(%s::uuid[]) AS u",
            (gamma_id, ids),
        ).fetchall()
    )
    mapped[str(alpha["id"])] = gamma_id
    expected = [UUID.sub(lambda m: mapped[m.group(0)], line) for line in alpha["lines"][1:]]
    assert sorted(copy[1:]) == sorted(expected)
    # and again: the same ids, nothing written
    assert import_file(pg_env, alpha["path"], "--as", GAMMA)["rows_written"] == 0
    refused = run([*IMPORT, str(alpha["path"]), "--as", GAMMA, "--keep-ids"], pg_env)
    assert refused.returncode == 1
    assert "23505: ids of the export belong to another agent of this database" in refused.stderr


def test_another_model_is_re_embedded(alpha, superconn_module, pg_env, tmp_path):
    other = tmp_path / "other-model.ndjson"
    other.write_text(
        reseal([line.replace("all-MiniLM-L6-v2", "other-model-v9") for line in alpha["lines"]])
    )
    summary = import_file(pg_env, other, "--as", DELTA, "--role", DELTA_ROLE)
    assert summary["models_missing"] == ["other-model-v9"]
    assert summary["vectors_reused"] == 0 and summary["queued_for_embedding"] == 28
    wait_embedded(superconn_module, DELTA)
    embedded = superconn_module.execute(
        """
        SELECT count(DISTINCT p.episode_id) + count(DISTINCT p.fact_id)
        FROM memory.pooled_embeddings AS p JOIN memory.agents AS a USING (agent_id)
        JOIN memory.embedding_models AS m USING (model_id)
        WHERE a.name = %s AND m.name = 'all-MiniLM-L6-v2'
        """,
        (DELTA,),
    ).fetchone()[0]
    assert embedded == 28


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "22000: export is truncated"),
        ("version", "0A000: unsupported export version 2"),
        ("model", "42704: export names an unknown embedding model"),
        ("other_agent", "22000: export holds a record of another agent"),
        ("corrupted", "22000: export is corrupted"),
    ],
)
def test_malformed_file_is_refused_and_nothing_written(
    alpha, fresh_db, superconn_module, tmp_path, kind, message
):
    name, env = fresh_db
    lines = list(alpha["lines"])
    ep = next(i for i, line in enumerate(lines) if line.startswith('{"type" : "episode"'))
    emb = next(i for i, line in enumerate(lines) if line.startswith('{"type" : "embedding"'))
    if kind == "truncated":
        text = "\n".join(lines)[: len("\n".join(lines)) * 2 // 3]
    elif kind == "version":
        header = json.loads(lines[0])
        header["version"] = 2
        text = "\n".join([json.dumps(header), *lines[1:]]) + "\n"
    elif kind == "model":
        lines[emb] = lines[emb].replace('"model" : "all-MiniLM-L6-v2"', '"model" : "no-such-model"')
        text = reseal(lines)
    elif kind == "other_agent":
        lines[ep] = lines[ep].replace(str(alpha["id"]), str(uuid.uuid4()))
        text = reseal(lines)
    else:
        lines[ep] = lines[ep].replace('"content" : "', '"content" : "edited ')
        text = "\n".join(lines) + "\n"
    bad = tmp_path / f"{kind}.ndjson"
    bad.write_text(text)
    with psycopg.connect(conninfo(dbname=name)) as conn:
        before = conn.execute(
            "SELECT (SELECT count(*) FROM memory.agents), (SELECT count(*) FROM memory.episodes)"
        ).fetchone()
        result = run([*IMPORT, str(bad), "--as", BAD, "--role", BAD_ROLE, "--memory-db", name], env)
        assert result.returncode == 1
        assert message in result.stderr
        assert "hint:" in result.stderr
        after = conn.execute(
            "SELECT (SELECT count(*) FROM memory.agents), (SELECT count(*) FROM memory.episodes)"
        ).fetchone()
    assert after == before


def test_agents_cannot_export(alpha, superconn_module):
    conn = superconn_module
    conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(ALPHA_ROLE)))
    try:
        for who in (ALPHA, GAMMA):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM memory.export_agent(%s)", (who,))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT memory.import_agent(%s)", ("{}\n",))
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")
