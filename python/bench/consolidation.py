"""Thresholds of consolidation, measured (``make eval-consolidation``).

Two sides, both computed by the SQL the job runs (``memory._duplicate_pairs``, exact
nearest neighbours, every pair with cosine >= 0.5 among each chunk's 10 nearest):

* false merges: the turns of a LoCoMo conversation are distinct utterances, never
  duplicates of each other; every pair of distinct turns that passes a threshold is a
  false merge. Hand-written Spanish paraphrases and translations of a sentence are not
  duplicates either.
* duplicates: a turn (English, LoCoMo) or a sentence of the seeds (Spanish) re-stored
  with a small edit: punctuation, case, one word changed, one typo, or two of these.

The thresholds are chosen on a tuning half (conversations 26, 30, 41 and half of the
Spanish sentences): the smallest text threshold, then the smallest cosine threshold, of
the grid that makes no false merge on the tuning side, with one grid step of margin on
each. The figure is then measured, with those thresholds fixed, on a synthetic agent built
from the other half (conversations 42, 43, the other Spanish sentences) with N planted
duplicates: precision and recall of the detector, and of the job itself (HNSW, batches),
with its time per batch beside one search of the same agent (the baseline of the run).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.locomo import ensure_agent, load_conversation, wait_for_embeddings

log = logging.getLogger("consolidation-eval")

TUNE_CONVS = ("conv-26", "conv-30", "conv-41")
REPORT_CONVS = ("conv-42", "conv-43")
COSINES = [round(0.60 + 0.01 * i, 2) for i in range(40)]
TEXTS = [round(0.30 + 0.05 * i, 2) for i in range(14)]

# Not duplicates: the same thing said in other words or in the other language.
PARAPHRASES = [
    (
        "Mañana tengo que llevar el coche al taller porque hace un ruido raro.",
        "El coche hace un ruido extraño, así que mañana lo llevo al mecánico.",
    ),
    (
        "Ayer terminamos la migración de la base de datos sin perder ningún registro.",
        "La migración de la base de datos acabó ayer y no se perdió ni un solo registro.",
    ),
    (
        "Mi hermana se muda a Valencia el mes que viene por un trabajo nuevo.",
        "El mes próximo mi hermana se va a vivir a Valencia, le salió un empleo.",
    ),
    (
        "El despliegue falló porque el contenedor de Redis no arrancó a tiempo.",
        "Redis tardó demasiado en arrancar y por eso el despliegue no funcionó.",
    ),
    (
        "Hoy corrí diez kilómetros por el parque antes de desayunar.",
        "Antes del desayuno salí a correr diez kilómetros en el parque.",
    ),
    (
        "La reunión con el cliente se pasó al jueves a las cuatro de la tarde.",
        "Movimos la reunión del cliente al jueves, a las 16:00.",
    ),
    (
        "Estoy aprendiendo a tocar la guitarra con vídeos de internet.",
        "Aprendo guitarra por mi cuenta viendo tutoriales en línea.",
    ),
    (
        "El índice HNSW no devolvía suficientes filas cuando el agente tenía pocos vectores.",
        "Con pocos vectores por agente, el índice HNSW se quedaba corto de resultados.",
    ),
]
TRANSLATIONS = [
    (
        "I'm going to take my dog to the vet tomorrow morning.",
        "Mañana por la mañana voy a llevar a mi perro al veterinario.",
    ),
    (
        "We finally finished painting the living room last weekend.",
        "Por fin terminamos de pintar el salón el fin de semana pasado.",
    ),
    (
        "My favourite book this year was a novel about a lighthouse keeper.",
        "Mi libro favorito de este año fue una novela sobre un farero.",
    ),
    (
        "The database restore took three hours because the backup was compressed.",
        "La restauración de la base de datos tardó tres horas porque la copia estaba comprimida.",
    ),
    (
        "I started volunteering at the animal shelter on Saturdays.",
        "Empecé a hacer voluntariado en el refugio de animales los sábados.",
    ),
    (
        "She told me the concert was the best night of her summer.",
        "Me dijo que el concierto fue la mejor noche de su verano.",
    ),
]
SPANISH_HINT = re.compile(r"\b(el|la|los|las|de|que|para|con|una|por)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    cosine: float
    text: float


def spanish_sentences(seeds: Path) -> list[str]:
    """Prose lines of the Spanish seed documents (markdown and code left out)."""
    out: list[str] = []
    seen: set[str] = set()
    for path in sorted(seeds.glob("*.md")):
        in_code = False
        for line in path.read_text().splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                continue
            text = re.sub(r"[*#`>|]+", "", line).strip(" -\t")
            if in_code or not 50 <= len(text) <= 300 or len(SPANISH_HINT.findall(text)) < 3:
                continue
            if text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
    return out


def edit(text: str, rng: random.Random) -> tuple[str, str]:
    """A small edit of text: (kind, edited text); never the same text."""
    words = text.split(" ")
    kinds = ["punctuation", "case", "word", "typo", "punctuation+case"]
    kind = rng.choice(kinds)
    out = text
    if "punctuation" in kind:
        stripped = re.sub(r"[.,;:!?¿¡]", "", out)
        out = stripped if stripped != out else out + "!"
    if "case" in kind:
        out = out.lower() if out != out.lower() else out.upper()
    if kind == "word":
        idx = [i for i, w in enumerate(words) if len(w) >= 4] or list(range(len(words)))
        i = rng.choice(idx)
        words[i] = rng.choice(["really", "quite", "realmente", "bastante", "then", "luego"])
        out = " ".join(words)
    if kind == "typo":
        idx = [i for i, w in enumerate(words) if len(w) >= 4] or [0]
        i = rng.choice(idx)
        w = words[i]
        j = rng.randrange(len(w) - 1) if len(w) > 1 else 0
        words[i] = w[:j] + w[j + 1 : j + 2] + w[j : j + 1] + w[j + 2 :]
        out = " ".join(words)
    if out == text:
        out = text + " ."
    return kind, out


def make_agent(conn: psycopg.Connection, name: str) -> tuple[str, str]:
    role = name.replace("-", "_")
    conn.execute("DELETE FROM memory.agents WHERE name = %s", (name,))
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
    agent_id = conn.execute("SELECT memory.create_agent(%s, %s)", (name, role)).fetchone()[0]
    return str(agent_id), role


def store(conn: psycopg.Connection, role: str, texts: list[tuple[str, float]]) -> list[str]:
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        with conn.transaction():
            return [
                str(
                    conn.execute(
                        "SELECT memory.remember(content => %s, importance => %s::real)", (t, imp)
                    ).fetchone()[0]
                )
                for t, imp in texts
            ]
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")


def pairs(conn: psycopg.Connection, agent: str) -> list[Pair]:
    rows = conn.execute(
        "SELECT d.episode_a, d.episode_b, d.cosine, d.text_similarity"
        " FROM memory._duplicate_pairs(%s::uuid,"
        "   ARRAY(SELECT c.chunk_id FROM memory.chunks c WHERE c.agent_id = %s::uuid"
        "         AND c.episode_id IS NOT NULL),"
        "   0.5, 0, 10, true) AS d",
        (agent, agent),
    ).fetchall()
    return [Pair(str(a), str(b), float(c), float(t)) for a, b, c, t in rows]


def reuse(conn: psycopg.Connection, name: str, texts: list[str]) -> list[str] | None:
    """The ids of an earlier run's agent when it holds exactly these texts (same seed, no
    merge since), matched by content; None when it must be stored again."""
    rows = conn.execute(
        "SELECT e.content, e.episode_id FROM memory.episodes e JOIN memory.agents a USING (agent_id)"
        " WHERE a.name = %s ORDER BY e.episode_id",
        (name,),
    ).fetchall()
    if len(rows) != len(texts):
        return None
    by_text: dict[str, list[str]] = {}
    for content, eid in rows:
        by_text.setdefault(content, []).append(str(eid))
    out = []
    for t in texts:
        if not by_text.get(t):
            return None
        out.append(by_text[t].pop())
    return out


def embed_here(conn: psycopg.Connection, timeout: float) -> None:
    """Drains the embedding queue in this process through the daemon's own API (claim,
    encode with the serving model, complete), beside the daemon: on a busy machine the
    daemon alone takes long over a few thousand turns. Same model, same chunks."""
    from embed_daemon.model import resolve_source
    from sentence_transformers import SentenceTransformer

    source = conn.execute("SELECT source FROM memory.embedding_models WHERE is_serving").fetchone()[
        0
    ]
    model = SentenceTransformer(str(resolve_source(source)), device="cpu")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = conn.execute(
            "SELECT lease_id, chunk_index, chunk_text FROM memory.claim_embedding_batch("
            "'eval-consolidation', 256, '600 seconds', 1048576)"
        ).fetchall()
        if not rows:
            pending = conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs WHERE state IN ('pending', 'processing')"
            ).fetchone()[0]
            if pending == 0:
                return
            time.sleep(2)
            continue
        vecs = model.encode(
            [r[2] for r in rows], batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        conn.execute(
            "SELECT count(*) FROM memory.complete_embedding_batch('eval-consolidation', %s::uuid[],"
            " %s::integer[], %s::text[]::public.vector[])",
            (
                [r[0] for r in rows],
                [r[1] for r in rows],
                ["[" + ",".join(f"{x:.7f}" for x in v) + "]" for v in vecs],
            ),
        )
        log.info("embedded %d chunks here", len(rows))
    raise TimeoutError("the embedding queue did not drain")


def agent_id_of(conn: psycopg.Connection, name: str) -> str:
    return str(
        conn.execute("SELECT agent_id FROM memory.agents WHERE name = %s", (name,)).fetchone()[0]
    )


@dataclass
class Planted:
    agent: str
    role: str
    dups: set[frozenset[str]]
    not_dups: set[frozenset[str]]
    kinds: dict[frozenset[str], str]


def plant(
    conn: psycopg.Connection,
    name: str,
    originals: list[str],
    n_dups: int,
    extra_negatives: list[tuple[str, str]],
    rng: random.Random,
) -> Planted:
    chosen = rng.sample(range(len(originals)), n_dups)
    texts: list[tuple[str, float]] = [(t, 0.5) for t in originals]
    edited: list[tuple[int, str]] = []
    for i in chosen:
        kind, e = edit(originals[i], rng)
        edited.append((i, kind))
        texts.append((e, rng.choice([0.3, 0.5, 0.8])))
    for a, b in extra_negatives:
        texts += [(a, 0.5), (b, 0.5)]
    ids = reuse(conn, name, [t for t, _ in texts])
    if ids is None:
        agent, role = make_agent(conn, name)
        ids = store(conn, role, texts)
    else:
        agent, role = agent_id_of(conn, name), name.replace("-", "_")
        log.info("%s: reusing the %d episodes stored by an earlier run", name, len(ids))
    dups = set()
    kinds = {}
    for n, (i, kind) in enumerate(edited):
        p = frozenset((ids[i], ids[len(originals) + n]))
        dups.add(p)
        kinds[p] = kind
    base = len(originals) + len(edited)
    not_dups = {
        frozenset((ids[base + 2 * k], ids[base + 2 * k + 1])) for k in range(len(extra_negatives))
    }
    return Planted(agent, role, dups, not_dups, kinds)


def passing(ps: list[Pair], c: float, t: float) -> set[frozenset[str]]:
    return {frozenset((p.a, p.b)) for p in ps if p.cosine >= c and p.text >= t}


def choose(tune_neg: list[Pair], tune_pos: list[Pair]) -> tuple[float, float, list[str]]:
    """Of the grid points with no false merge on the tuning side, the one that finds the
    most tuning duplicates; among equals the highest cosine, then the highest text
    threshold (the most conservative of the equally good)."""
    lines = [
        "| min_cosine | min_text | false merges (tuning) | duplicates found (tuning) |",
        "|---|---|---|---|",
    ]
    scored = []
    for t in TEXTS:
        for c in COSINES:
            fm = len(passing(tune_neg, c, t))
            found = len(passing(tune_pos, c, t))
            scored.append((c, t, fm, found))
    clean = [x for x in scored if x[2] == 0]
    assert clean, "no threshold separates the tuning side"
    c, t, _, _ = max(clean, key=lambda x: (x[3], x[0], x[1]))
    for x in scored:
        if (x[0] in (0.7, 0.8, 0.85, 0.9, 0.95, c) and x[1] in (0.4, 0.5, 0.6, 0.7, t)) and (
            abs(x[0] - c) < 0.101 or x[1] == t
        ):
            lines.append(f"| {x[0]:.2f} | {x[1]:.2f} | {x[2]} | {x[3]} |")
    return c, t, lines


def quantiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    qs = statistics.quantiles(xs, n=100, method="inclusive") if len(xs) > 1 else [xs[0]] * 99
    return f"median {statistics.median(xs):.3f}, p99 {qs[98]:.3f}, max {max(xs):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consolidation-eval", description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", type=Path, required=True)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--planted", type=int, default=150, help="English duplicates planted in the report agent"
    )
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")
    rng = random.Random(20)
    convs = {p.stem: load_conversation(p) for p in sorted(args.data.glob("conv-*.json"))}
    spanish = spanish_sentences(args.seeds)
    rng.shuffle(spanish)
    half = len(spanish) // 2
    es_tune, es_report = spanish[:half], spanish[half:]
    n_es = min(40, len(es_report) // 2)

    with psycopg.connect(autocommit=True) as conn:
        roles = [ensure_agent(conn, convs[c], False) for c in TUNE_CONVS + REPORT_CONVS]
        tune_turns = [t.text for c in TUNE_CONVS for t in convs[c].turns]
        report_turns = [t.text for c in REPORT_CONVS for t in convs[c].turns]
        tune = plant(
            conn,
            "consolidation-tune",
            rng.sample(tune_turns, 300) + es_tune[: 2 * n_es],
            args.planted + n_es,
            PARAPHRASES[:4] + TRANSLATIONS[:3],
            rng,
        )
        report = plant(
            conn,
            "consolidation-planted",
            rng.sample(report_turns, 300) + es_report[: 2 * n_es],
            args.planted + n_es,
            PARAPHRASES[4:] + TRANSLATIONS[3:],
            rng,
        )
        embed_here(conn, args.timeout)
        wait_for_embeddings(
            conn, [*roles, tune.role.replace("_", "-"), report.role.replace("_", "-")], args.timeout
        )

        # the false-merge side: all near pairs of distinct turns of each conversation
        neg: dict[str, list[Pair]] = {
            c: pairs(conn, agent_id_of(conn, f"eval-{c.replace('-', '_')}")) for c in convs
        }
        tune_pairs = pairs(conn, tune.agent)
        tune_pos = [p for p in tune_pairs if frozenset((p.a, p.b)) in tune.dups]
        tune_neg = [p for c in TUNE_CONVS for p in neg[c]] + [
            p for p in tune_pairs if frozenset((p.a, p.b)) not in tune.dups
        ]
        c_min, t_min, grid = choose(tune_neg, tune_pos)
        log.info("chosen min_cosine %.2f min_text %.2f", c_min, t_min)

        # the figure, thresholds fixed: detector on the planted agent, and the job itself
        rep_pairs = pairs(conn, report.agent)
        found = passing(rep_pairs, c_min, t_min)
        tp = len(found & report.dups)
        det_p = tp / len(found) if found else 1.0
        det_r = tp / len(report.dups)
        report_neg_fm = sum(len(passing(neg[c], c_min, t_min)) for c in REPORT_CONVS)
        fm_texts = [
            tuple(
                conn.execute(
                    "SELECT content FROM memory.episodes WHERE episode_id = %s", (i,)
                ).fetchone()[0]
                for i in sorted(pair)
            )
            for c in REPORT_CONVS
            for pair in passing(neg[c], c_min, t_min)
        ]
        missed = {report.kinds[d] for d in report.dups - found}
        by_kind: dict[str, list[int]] = {}
        for d, k in report.kinds.items():
            by_kind.setdefault(k, [0, 0])
            by_kind[k][1] += 1
            by_kind[k][0] += d in found

        conn.execute(f'SET SESSION AUTHORIZATION "{report.role}"')
        t0 = time.perf_counter()
        for q in ("what did she say about the concert", "la base de datos", "painting", "dog"):
            conn.execute(
                "SELECT count(*) FROM memory.search_episodic_memory(%s, 10)", (q,)
            ).fetchone()
        search_ms = (time.perf_counter() - t0) * 1000 / 4
        conn.execute("RESET SESSION AUTHORIZATION")
        conn.execute(
            "DELETE FROM memory.consolidation_progress WHERE agent_id = %s::uuid", (report.agent,)
        )
        batch_ms: list[float] = []
        merged = 0
        while True:
            t0 = time.perf_counter()
            examined, m = conn.execute(
                "SELECT examined, merged FROM memory._consolidation_batch(%s::uuid, 100, %s::real, %s::real, '0')",
                (report.agent, c_min, t_min),
            ).fetchone()
            if examined == 0:
                break
            batch_ms.append((time.perf_counter() - t0) * 1000)
            merged += m
        merged_pairs = {
            frozenset((str(a), str(b)))
            for a, b in conn.execute(
                "SELECT merged_id, kept_id FROM memory.consolidations WHERE agent_id = %s::uuid",
                (report.agent,),
            ).fetchall()
        }
        job_tp = len(merged_pairs & report.dups)
        job_p = job_tp / len(merged_pairs) if merged_pairs else 1.0
        job_r = job_tp / len(report.dups)

    n_neg = {c: len(neg[c]) for c in convs}
    best_neg = [p.cosine for c in convs for p in neg[c]]
    lines = [
        "# Consolidation thresholds (make eval-consolidation)",
        "",
        f"Tuning side: {', '.join(TUNE_CONVS)} (all near pairs of distinct turns: "
        f"{sum(n_neg[c] for c in TUNE_CONVS)}) and an agent with {len(tune.dups)} planted duplicates "
        f"({args.planted} English turns, {n_es} Spanish seed sentences) and {len(tune.not_dups)} paraphrase or "
        "translation pairs.",
        "",
        *grid,
        "",
        f"Chosen (no false merge on the tuning side, the most duplicates found; among equals the "
        "highest thresholds): "
        f"**min_cosine {c_min:.2f}, min_text {t_min:.2f}**.",
        "",
        f"Cosine of near pairs (>= 0.5 among the 10 nearest) of distinct LoCoMo turns, all five conversations: "
        f"{quantiles(best_neg)}; text similarity of those pairs: {quantiles([p.text for c in convs for p in neg[c]])}.",
        f"Duplicates (tuning): cosine {quantiles([p.cosine for p in tune_pos])}; text {quantiles([p.text for p in tune_pos])}.",
        "",
        f"## Held-out figure: agent with {len(report.dups)} planted duplicates ({', '.join(REPORT_CONVS)}, other Spanish half)",
        "",
        "| | merges | correct | precision | recall |",
        "|---|---|---|---|---|",
        f"| detector (exact neighbours) | {len(found)} | {tp} | {det_p:.3f} | {det_r:.3f} |",
        f"| job (HNSW, batches of 100 chunks) | {len(merged_pairs)} | {job_tp} | {job_p:.3f} | {job_r:.3f} |",
        "",
        "Recall by kind of edit (detector): "
        + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_kind.items()))
        + (f"; kinds with misses: {', '.join(sorted(missed))}" if missed else "")
        + ".",
        f"False merges among the held-out conversations' turns ({', '.join(REPORT_CONVS)}): {report_neg_fm}; "
        f"paraphrase/translation pairs merged: {len(found & report.not_dups)} of {len(report.not_dups)}.",
        *[f"- false merge: `{a}` / `{b}`" for a, b in fm_texts],
        "",
        f"Job time per batch of 100 chunks on this agent ({len(batch_ms)} batches): median {statistics.median(batch_ms):.0f} ms "
        f"= {statistics.median(batch_ms) / search_ms:.1f} x one search_episodic_memory of the same agent "
        f"({search_ms:.0f} ms, the baseline of this run).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
