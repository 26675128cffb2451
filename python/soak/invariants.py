"""The end-of-soak invariants: each one a query against the real database or Redis.

A check returns Check(name, ok, detail); detail carries the counts behind the verdict.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import redis
from testing.stack import wait_for


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------- acknowledged writes
def acknowledged_writes(conn: psycopg.Connection, ledgers: list[dict[str, Any]]) -> list[Check]:
    episodes = dict(
        conn.execute(
            "SELECT episode_id::text, encode(content_sha256, 'hex') FROM memory.episodes"
        ).fetchall()
    )
    lost = wrong = resurrected = doubt_bad = acked = 0
    for led in ledgers:
        for eid, e in led["episodes"].items():
            have = episodes.get(eid)
            if e["state"] == "live":
                acked += 1
                lost += have is None
                wrong += have is not None and have != e["sha"][0]
            elif e["state"] == "forgotten":
                acked += 1
                resurrected += have is not None
            else:
                doubt_bad += have is not None and have not in e["sha"]
    out = [
        Check(
            "episodes: acknowledged writes present",
            lost == wrong == resurrected == doubt_bad == 0,
            f"{acked} acknowledged (remember/update/forget) episodes; lost {lost}, wrong text {wrong}, "
            f"forgotten but present {resurrected}, in-doubt with an impossible text {doubt_bad}",
        )
    ]

    facts = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT fact_id::text, encode(sha256(convert_to(statement, 'UTF8')), 'hex'), "
            "valid_to IS NULL AND invalidated_at IS NULL FROM memory.facts"
        ).fetchall()
    }
    lost = wrong = acked = 0
    for led in ledgers:
        for fid, f in led["facts"].items():
            have = facts.get(fid)
            lost += have is None  # facts are closed, never deleted: even in doubt they exist
            if have is None or f["state"] == "doubt":
                continue
            acked += 1
            wrong += have[0] != f["sha"] or have[1] != (f["state"] == "open")
    out.append(
        Check(
            "facts: acknowledged writes present",
            lost == wrong == 0,
            f"{acked} acknowledged facts (learn/supersede/invalidate); lost {lost}, wrong text or validity {wrong}",
        )
    )

    wm = {
        (r[0], r[1], r[2]): r[3:]
        for r in conn.execute(
            "SELECT g.db_role, w.context_type, w.key, w.content, w.expires_at > clock_timestamp() "
            "FROM memory.working_memory AS w JOIN memory.agents AS g USING (agent_id)"
        ).fetchall()
    }
    lost = wrong = lingering = acked = 0
    for led in ledgers:
        for item in led["working"].values():
            have = wm.get((led["role"], item["context_type"], item["key"]))
            live = have is not None and have[1]
            if item["state"] == "live":
                acked += 1
                lost += not live
                wrong += live and have[0] != item["content"][0]
            elif item["state"] in ("expiring", "cleared"):
                acked += 1
                lingering += live
            elif live:
                wrong += have[0] not in item["content"]
        for label, b in led["blocks"].items():
            got = conn.execute(
                "SELECT b.value FROM memory.blocks AS b JOIN memory.agents AS g USING (agent_id) "
                "WHERE g.db_role = %s AND b.label = %s",
                (led["role"], label),
            ).fetchone()
            acked += 1
            lost += got is None
            wrong += got is not None and got[0] not in b["values"]
    out.append(
        Check(
            "working memory and blocks: acknowledged writes present",
            lost == wrong == lingering == 0,
            f"{acked} acknowledged items and blocks; lost {lost}, wrong content {wrong}, "
            f"expired or cleared but live {lingering}",
        )
    )
    return out


# ---------------------------------------------------------------------- embeddings
OWNERS = """
    SELECT 'episode' AS kind, e.episode_id AS owner, e.content AS body, e.content_sha256 AS sha
    FROM memory.episodes AS e
    UNION ALL
    SELECT 'fact', f.fact_id, f.concept || E'\\n' || f.statement, f.content_sha256 FROM memory.facts AS f
"""


def embeddings(conn: psycopg.Connection, marker: str, poisoned_expected: int) -> list[Check]:
    model, chunk_tokens, overlap = conn.execute(
        "SELECT model_id, chunk_tokens, chunk_overlap FROM memory.embedding_models WHERE is_serving"
    ).fetchone()
    rows = conn.execute(
        f"""
        WITH o AS ({OWNERS}),
        j AS (
            SELECT coalesce(episode_id, fact_id) AS owner, state, embedded_sha256
            FROM memory.embedding_jobs WHERE model_id = %(m)s
        ),
        c AS (
            SELECT coalesce(episode_id, fact_id) AS owner, count(*) AS n,
                   array_agg(chunk_index ORDER BY chunk_index) AS idx,
                   array_agg(int4range(char_start, char_end) ORDER BY chunk_index) AS spans,
                   array_agg(DISTINCT content_sha256) AS shas
            FROM memory.chunks WHERE model_id = %(m)s GROUP BY 1
        ),
        p AS (
            SELECT coalesce(episode_id, fact_id) AS owner, content_sha256, chunk_count
            FROM memory.pooled_embeddings WHERE model_id = %(m)s
        )
        SELECT strpos(o.body, %(marker)s) > 0 AS poisoned, j.state,
               j.embedded_sha256 = o.sha AS job_current,
               c.n,
               c.shas = ARRAY[o.sha] AND p.content_sha256 = o.sha AS current,
               -- exactly one generation: indexes 0..n-1, the spans the splitter gives the
               -- current text today, and a pooled vector over the same n chunks
               c.idx = ARRAY(SELECT generate_series(0, c.n::integer - 1))
                   AND c.spans = ARRAY(
                       SELECT int4range(x.char_start, x.char_end)
                       FROM memory.chunk_text(o.body, %(tokens)s, %(overlap)s) AS x ORDER BY x.chunk_index
                   )
                   AND p.chunk_count = c.n AS one_generation
        FROM o LEFT JOIN j USING (owner) LEFT JOIN c USING (owner) LEFT JOIN p USING (owner)
        """,
        {"m": model, "marker": marker, "tokens": chunk_tokens, "overlap": overlap},
    ).fetchall()
    total = covered = poisoned = poisoned_dead = 0
    stale = dups = 0
    for is_poison, state, job_current, n, current, one_generation in rows:
        if is_poison:
            poisoned += 1
            poisoned_dead += state == "dead"
            continue
        total += 1
        covered += bool(state == "done" and job_current and n and current)
        if n:
            stale += not current
            dups += not one_generation
    dead = conn.execute(
        "SELECT count(*) FROM memory.embedding_jobs WHERE state = 'dead'"
    ).fetchone()[0]
    open_jobs = conn.execute(
        "SELECT count(*) FROM memory.embedding_jobs WHERE state IN ('pending', 'processing')"
    ).fetchone()[0]
    coverage = covered / total if total else 1.0
    return [
        Check(
            "embedding coverage 100% after the drain",
            covered == total and open_jobs == 0,
            f"{covered}/{total} episodes and facts ({coverage:.2%}) have current vectors; {open_jobs} jobs still open",
        ),
        Check(
            "no duplicate chunks",
            dups == 0,
            f"{dups} owners whose chunks are not one generation: indexes 0..n-1 with the splitter's spans of the current text and a pooled vector of n chunks",
        ),
        Check(
            "no stale vectors (hash bookkeeping)",
            stale == 0,
            f"{stale} owners with chunks or a pooled vector of another text",
        ),
        Check(
            "no dead jobs except the poisoned ones",
            dead == poisoned_dead and poisoned_dead == poisoned,
            f"{dead} dead jobs; {poisoned} poisoned owners alive at the end, {poisoned_dead} of them dead; "
            f"{poisoned_expected} poisoned writes acknowledged during the run",
        ),
    ]


def vectors_match_text(conn: psycopg.Connection, encoder: Any, sample: int, seed: int) -> Check:
    """Re-encodes a sample of stored chunks from the owner's current text."""
    rows = conn.execute(
        f"""
        WITH o AS ({OWNERS})
        SELECT substr(o.body, c.char_start + 1, c.char_end - c.char_start), c.embedding::text
        FROM memory.chunks AS c JOIN o ON o.owner = coalesce(c.episode_id, c.fact_id)
        """
    ).fetchall()
    rng = random.Random(seed)
    picked = rng.sample(rows, min(sample, len(rows)))
    if not picked:
        return Check(
            "stored vectors are the current text's (re-encoded sample)", False, "no chunks"
        )
    texts = [t for t, _ in picked]
    stored = np.array([json.loads(v) for _, v in picked], dtype=np.float32)
    fresh = encoder.encode(texts, normalize_embeddings=True, batch_size=32, show_progress_bar=False)
    cos = np.sum(stored * fresh, axis=1) / np.linalg.norm(stored, axis=1)
    worst = float(cos.min())
    return Check(
        "stored vectors are the current text's (re-encoded sample)",
        worst > 0.99,
        f"{len(picked)} random chunks re-encoded; lowest cosine to the stored vector {worst:.4f}",
    )


# ---------------------------------------------------------------------- cache
def request_reconcile(conn: psycopg.Connection, timeout: float) -> tuple[int, ...]:
    since = conn.execute("SELECT coalesce(max(repair_id), 0) FROM memory.cache_repairs").fetchone()[
        0
    ]
    request = conn.execute("SELECT memory.request_cache_reconcile('soak')").fetchone()[0]
    wait_for(
        "a cache reconciliation",
        lambda: conn.execute(
            "SELECT finished_at FROM memory.cache_reconcile_requests WHERE request_id = %s",
            (request,),
        ).fetchone()[0],
        timeout,
        0.2,
    )
    row = conn.execute(
        "SELECT count(*), coalesce(sum(missing), 0), coalesce(sum(stale), 0), "
        "coalesce(sum(extra), 0), coalesce(sum(expired), 0), count(*) FILTER (WHERE NOT ok) "
        "FROM memory.cache_repairs WHERE repair_id > %s",
        (since,),
    ).fetchone()
    return tuple(int(x) for x in row)


def cache_matches(conn: psycopg.Connection, r: redis.Redis) -> Check:
    """Redis holds exactly the live working memory and blocks Postgres holds."""
    wanted = {
        f"mem:{a}:wm:{w}": (payload, soon)
        for w, a, payload, soon in conn.execute(
            "SELECT w.working_id, w.agent_id, memory._cache_wm_json(w), "
            "w.expires_at < clock_timestamp() + interval '2 seconds' "
            "FROM memory.working_memory AS w WHERE w.expires_at > clock_timestamp()"
        ).fetchall()
    }
    have_keys = list(r.scan_iter(match="mem:*:wm:*", count=1000))
    values = dict(zip(have_keys, r.mget(have_keys), strict=True)) if have_keys else {}
    missing = sum(1 for k, (_, soon) in wanted.items() if k not in values and not soon)
    wrong = sum(1 for k, (p, _) in wanted.items() if k in values and values[k] != p)
    extra = sum(1 for k in values if k not in wanted)
    blocks: dict[str, dict[str, str]] = {}
    for agent, label, payload in conn.execute(
        "SELECT * FROM memory.cache_blocks(ARRAY(SELECT agent_id FROM memory.agents))"
    ).fetchall():
        blocks.setdefault(f"mem:{agent}:blocks", {})[label] = payload
    block_keys = set(r.scan_iter(match="mem:*:blocks", count=1000))
    block_bad = sum(1 for k, v in blocks.items() if r.hgetall(k) != v)
    block_bad += len(block_keys - set(blocks))
    return Check(
        "cache consistent after one reconciliation",
        missing == wrong == extra == block_bad == 0,
        f"{len(wanted)} live working-memory items and {len(blocks)} block hashes compared with Redis; "
        f"missing {missing}, wrong value {wrong}, extra keys {extra}, block hashes differing {block_bad}",
    )


# ---------------------------------------------------------------------- latency
def percentiles(
    samples: list[list[Any]], groups: dict[str, list[str]]
) -> list[tuple[str, int, float, float, float, float]]:
    """p50/p95/p99/max in ms per group of calls (a group may be one call)."""
    out = []
    for name, ops in groups.items():
        ms = np.array([s[2] for s in samples if s[0] in ops and s[3]])
        if ms.size == 0:
            continue
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        out.append((name, int(ms.size), float(p50), float(p95), float(p99), float(ms.max())))
    return out
