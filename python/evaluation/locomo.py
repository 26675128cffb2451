"""Retrieval evaluation on the LoCoMo development split (``make eval``).

Each conversation becomes one agent; each turn one episode (``"<speaker>: <text>"`` plus
the image caption, ``occurred_at`` from the session date, ``session_id`` = ``session_N``,
``metadata.dia_id``). For every question of categories 1-4 the agent's memory is searched
with the question and evidence recall@k is computed (share of the evidence turns among
the top k), for the three modes of ``memory.search_episodic_memory`` and, in the same
run, for two baselines over the same turns: plain Okapi BM25 and exact cosine search with
the same embedding model.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

log = logging.getLogger("eval.locomo")

KS = (5, 10, 20)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
MODES = ("hybrid", "vector", "text")


@dataclass
class Turn:
    dia_id: str
    session: str
    occurred_at: datetime
    text: str


@dataclass
class Question:
    text: str
    evidence: list[str]
    category: int


@dataclass
class Conversation:
    name: str
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def parse_session_time(value: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> aware datetime (UTC)."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def split_evidence(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(p for p in re.split(r"[;,\s]+", item) if re.fullmatch(r"D\d+:\d+", p))
    return out


def load_conversation(path: Path) -> Conversation:
    raw = json.loads(path.read_text())
    conv = Conversation(name=path.stem.replace("-", "_"))
    n = 1
    while f"session_{n}" in raw:
        when = parse_session_time(raw[f"session_{n}_date_time"])
        for turn in raw[f"session_{n}"]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shared an image: {turn['blip_caption']}]"
            conv.turns.append(Turn(turn["dia_id"], f"session_{n}", when, text))
        n += 1
    for qa in raw["qa"]:
        if qa.get("category") in CATEGORIES:
            evidence = split_evidence(qa.get("evidence", []))
            if evidence:
                conv.questions.append(Question(str(qa["question"]), evidence, int(qa["category"])))
    return conv


# --------------------------------------------------------------------------------------
# Baselines, computed in the same run over the same turns
# --------------------------------------------------------------------------------------
TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class BM25:
    """Plain Okapi BM25 (k1=1.5, b=0.75), no stemming, no stop words."""

    def __init__(self, docs: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(tokenize(d)) for d in docs]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avgdl = statistics.fmean(self.lengths) if self.lengths else 0.0
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def top(self, query: str, k: int) -> list[int]:
        terms = [t for t in set(tokenize(query)) if t in self.idf]
        scores = np.zeros(len(self.docs))
        for i, (doc, dl) in enumerate(zip(self.docs, self.lengths, strict=True)):
            s = 0.0
            for t in terms:
                tf = doc.get(t, 0)
                if tf:
                    s += (
                        self.idf[t]
                        * tf
                        * (self.k1 + 1)
                        / (tf + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
                    )
            scores[i] = s
        order = np.argsort(-scores, kind="stable")
        return [int(i) for i in order[:k]]


def recall(found: list[str], evidence: list[str], k: int) -> float:
    top = set(found[:k])
    return sum(1 for e in set(evidence) if e in top) / len(set(evidence))


# --------------------------------------------------------------------------------------
# Loading into the memory and searching through SQL
# --------------------------------------------------------------------------------------
def ensure_agent(conn: psycopg.Connection, conv: Conversation, reload: bool) -> str:
    role = f"eval_{conv.name}"
    agent = f"eval-{conv.name}"
    exists = conn.execute("SELECT 1 FROM memory.agents WHERE name = %s", (agent,)).fetchone()
    if exists and not reload:
        n = conn.execute(
            "SELECT count(*) FROM memory.episodes e JOIN memory.agents a USING (agent_id)"
            " WHERE a.name = %s",
            (agent,),
        ).fetchone()[0]
        if n == len(conv.turns):
            return role
    if exists:
        conn.execute("DELETE FROM memory.agents WHERE name = %s", (agent,))
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
    conn.execute("SELECT memory.create_agent(%s, %s)", (agent, role))
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "SELECT memory.remember(content => %s, occurred_at => %s, session_id => %s,"
                " metadata => jsonb_build_object('dia_id', %s::text))",
                [(t.text, t.occurred_at, t.session, t.dia_id) for t in conv.turns],
            )
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")
    log.info("%s: stored %d turns", conv.name, len(conv.turns))
    return role


def wait_for_embeddings(conn: psycopg.Connection, roles: list[str], timeout: float) -> None:
    agents = [r.replace("eval_", "eval-", 1) for r in roles]
    deadline = time.monotonic() + timeout
    while True:
        pending = conn.execute(
            "SELECT count(*) FROM memory.embedding_jobs j JOIN memory.agents a USING (agent_id)"
            " WHERE a.name = ANY(%s) AND j.state IN ('pending', 'processing')",
            (agents,),
        ).fetchone()[0]
        if pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending} embedding jobs still pending; is the daemon running?")
        log.info("waiting for %d embedding jobs", pending)
        time.sleep(2)


def search_ids(conn: psycopg.Connection, role: str, question: str, mode: str, k: int) -> list[str]:
    conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
    try:
        rows = conn.execute(
            "SELECT metadata->>'dia_id' FROM memory.search_episodic_memory(%s, k => %s, mode => %s)",
            (question, k, mode),
        ).fetchall()
    finally:
        conn.execute("RESET SESSION AUTHORIZATION")
    return [r[0] for r in rows]


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def table(results: dict[str, dict[int, list[tuple[int, float]]]]) -> str:
    """results[method][k] = [(category, recall), ...] -> markdown table."""
    head = "| method | " + " | ".join(
        f"{CATEGORIES[c]} R@{k}" for c in CATEGORIES for k in KS if k == 10
    )
    head += " | overall R@5 | overall R@10 | overall R@20 |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for method, by_k in results.items():
        cells = []
        for c in CATEGORIES:
            vals = [r for cat, r in by_k[10] if cat == c]
            cells.append(f"{statistics.fmean(vals):.3f}" if vals else "-")
        for k in KS:
            cells.append(f"{statistics.fmean(r for _, r in by_k[k]):.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="locomo-eval", description=__doc__)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "shared/datasets/locomo-dev",
    )
    parser.add_argument("--reload", action="store_true", help="drop and re-store the conversations")
    parser.add_argument("--limit", type=int, default=0, help="questions per conversation (0 = all)")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s")

    convs = [load_conversation(p) for p in sorted(args.data.glob("conv-*.json"))]
    if not convs:
        log.error("no conversations under %s", args.data)
        return 2
    started = time.monotonic()
    with psycopg.connect(autocommit=True) as conn:
        roles = [ensure_agent(conn, c, args.reload) for c in convs]
        wait_for_embeddings(conn, roles, args.timeout)
        load_s = time.monotonic() - started

        from embed_daemon.model import resolve_source
        from sentence_transformers import SentenceTransformer

        source = conn.execute(
            "SELECT source FROM memory.embedding_models WHERE is_serving"
        ).fetchone()[0]
        model = SentenceTransformer(str(resolve_source(source)), device="cpu")
        results: dict[str, dict[int, list[tuple[int, float]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        latencies: dict[str, list[float]] = defaultdict(list)
        for conv, role in zip(convs, roles, strict=True):
            texts = [t.text for t in conv.turns]
            ids = [t.dia_id for t in conv.turns]
            bm25 = BM25(texts)
            doc_vecs = model.encode(texts, batch_size=64, normalize_embeddings=True)
            questions = conv.questions[: args.limit] if args.limit else conv.questions
            q_vecs = model.encode(
                [q.text for q in questions], batch_size=64, normalize_embeddings=True
            )
            for q, qv in zip(questions, q_vecs, strict=True):
                found = {
                    "BM25 (baseline)": [ids[i] for i in bm25.top(q.text, max(KS))],
                    "exact cosine (baseline)": [
                        ids[i] for i in np.argsort(-(doc_vecs @ qv))[: max(KS)]
                    ],
                }
                for mode in MODES:
                    t0 = time.perf_counter()
                    try:
                        found[f"memory {mode}"] = search_ids(conn, role, q.text, mode, max(KS))
                    except psycopg.OperationalError:
                        # the server restarted under us (a test elsewhere): reconnect once
                        log.warning("connection lost; reconnecting")
                        conn = psycopg.connect(autocommit=True)
                        t0 = time.perf_counter()
                        found[f"memory {mode}"] = search_ids(conn, role, q.text, mode, max(KS))
                    latencies[mode].append(time.perf_counter() - t0)
                for method, got in found.items():
                    for k in KS:
                        results[method][k].append((q.category, recall(got, q.evidence, k)))
            log.info("%s: %d questions done", conv.name, len(questions))

    n_q = len(results["memory hybrid"][10])
    report = [
        f"# LoCoMo retrieval (development split): {len(convs)} conversations, "
        f"{sum(len(c.turns) for c in convs)} turns, {n_q} questions (categories 1-4)",
        "",
        "Evidence recall@k (mean share of a question's evidence turns among the top k); "
        "R@10 per category, then overall.",
        "",
        table(results),
        "",
    ]
    hybrid = statistics.fmean(r for _, r in results["memory hybrid"][10])
    for base in ("BM25 (baseline)", "exact cosine (baseline)"):
        b = statistics.fmean(r for _, r in results[base][10])
        report.append(
            f"- hybrid vs {base}, overall R@10: {hybrid:.3f} vs {b:.3f} "
            f"({hybrid - b:+.3f}, ratio {hybrid / b:.3f})"
        )
    for mode, vals in latencies.items():
        vals.sort()
        report.append(
            f"- search latency through SQL, mode {mode} (query vector from the daemon, or its cache on a rerun): "
            f"p50 {1000 * vals[len(vals) // 2]:.1f} ms, p95 {1000 * vals[int(len(vals) * 0.95)]:.1f} ms"
        )
    report.append(
        f"- load + embed + evaluate: {time.monotonic() - started:.0f} s (load and embedding {load_s:.0f} s)"
    )
    text = "\n".join(report)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
