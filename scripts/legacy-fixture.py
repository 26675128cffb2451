#!/usr/bin/env python3
"""Creates an "old brain": a database with the legacy schema and realistic memory.

The legacy schema is the one of shared/seeds/architecture-v2.md: projects,
zep_episodic_memory (embedding vector(1536), all NULL: the old brain never embedded
anything), zep_semantic_memory, zep_working_memory and embeddings_queue in schema public;
memory_blocks, consciousness_checkpoints, consciousness_state, instance_network and
distributed_consensus in schema nexus_memory.

The content is generated from a seed, so two runs with the same arguments give the same
database byte for byte (ids, texts, timestamps): English and Spanish episodes, from a
line to long session transcripts (some over 500 and some over 5,000 characters), with
quotes, backslashes, accents and emoji, a few NULLs where the old schema allowed them,
and a few episodes whose text repeats (the old brain logged some things twice).

A read-only login role (default legacy_reader) may connect to it; its password is
generated once into .secrets/<role>_password and set as a SCRAM verifier (it never
reaches the server's log). postgres_fdw in the memory database connects as that role.

--layout moves the episodes to another layout the seeds show (the data is the same):
  architecture-v2  public.zep_episodic_memory keyed by episode_id (the default)
  orchestrator     nexus_memory.zep_episodic_memory keyed by uuid, without "timestamp"
                   (the orchestrator report queried uuid, content, importance_score,
                   created_at)
  memory-system    memory_system.episodes (id, occurred_at, content, importance, tags,
                   embedding, project_id, metadata, created_at): the table the old code
                   queried (audit-chatgpt), which never existed; its columns are the
                   names an ORM of that code would use

Usage (the superuser's libpq environment, as scripts/lib.sh's pg_env_super sets it):
    .venv/bin/python scripts/legacy-fixture.py [--dbname legacy_brain] [--reader legacy_reader]
        [--episodes 4704] [--seed 20251014] [--layout architecture-v2] [--replace] [--drop]
Prints one JSON line describing what it made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import random
import secrets
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ROOT / ".secrets"
log = logging.getLogger("legacy-fixture")

UTC = dt.UTC
GENESIS = dt.datetime(2025, 7, 27, 9, 0, tzinfo=UTC)
LAST_DAY = dt.datetime(2025, 10, 14, 23, 0, tzinfo=UTC)

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA nexus_memory;

CREATE TABLE nexus_memory.memory_blocks (
    block_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    label VARCHAR(255) NOT NULL UNIQUE,
    description TEXT,
    value TEXT NOT NULL,
    read_only BOOLEAN DEFAULT FALSE,
    version INTEGER DEFAULT 1,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE nexus_memory.consciousness_checkpoints (
    checkpoint_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    checkpoint_type VARCHAR(100) NOT NULL,
    state_data JSONB NOT NULL,
    identity_hash VARCHAR(64) NOT NULL,
    continuity_score FLOAT DEFAULT 1.0,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    metadata JSONB
);
CREATE TABLE nexus_memory.consciousness_state (
    state_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    current_focus TEXT,
    emotional_vector JSONB,
    working_context JSONB,
    active_projects TEXT[],
    last_heartbeat TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    metadata JSONB
);
CREATE TABLE nexus_memory.instance_network (
    instance_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    instance_name VARCHAR(255) NOT NULL,
    instance_type VARCHAR(100),
    location VARCHAR(255),
    status VARCHAR(50) DEFAULT 'active',
    last_sync TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    capabilities JSONB,
    metadata JSONB
);
CREATE TABLE nexus_memory.distributed_consensus (
    consensus_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    decision_topic TEXT NOT NULL,
    proposed_by UUID REFERENCES nexus_memory.instance_network(instance_id),
    votes JSONB NOT NULL,
    consensus_reached BOOLEAN DEFAULT FALSE,
    final_decision TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    resolved_at TIMESTAMP WITH TIME ZONE,
    metadata JSONB
);

CREATE TABLE projects (
    project_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_name VARCHAR(255) NOT NULL UNIQUE,
    project_dna VARCHAR(100) UNIQUE,
    description TEXT,
    status VARCHAR(50) DEFAULT 'active',
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE zep_episodic_memory (
    episode_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    timestamp TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    content TEXT NOT NULL,
    importance_score FLOAT DEFAULT 0.5 CHECK (importance_score BETWEEN 0 AND 1),
    tags TEXT[],
    embedding vector(1536),
    project_id UUID REFERENCES projects(project_id),
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE zep_semantic_memory (
    semantic_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    concept VARCHAR(500) NOT NULL,
    definition TEXT,
    relationships JSONB,
    embedding vector(1536),
    confidence_score FLOAT DEFAULT 0.5 CHECK (confidence_score BETWEEN 0 AND 1),
    source_episodes UUID[],
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE zep_working_memory (
    working_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    context_type VARCHAR(100),
    active_content JSONB NOT NULL,
    priority VARCHAR(20) DEFAULT 'normal',
    ttl_seconds INTEGER DEFAULT 86400,
    expires_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE embeddings_queue (
    queue_id SERIAL PRIMARY KEY,
    episode_id UUID NOT NULL REFERENCES zep_episodic_memory(episode_id),
    content TEXT NOT NULL,
    priority VARCHAR(20) DEFAULT 'normal',
    attempts INTEGER DEFAULT 0,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    processed_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_episodic_timestamp ON zep_episodic_memory(timestamp DESC);
CREATE INDEX idx_episodic_tags ON zep_episodic_memory USING gin(tags);
CREATE INDEX idx_episodic_project ON zep_episodic_memory(project_id);
"""

# ---------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------
TOPICS = [
    "pgvector",
    "the Redis cache",
    "the embeddings worker",
    "the HNSW index",
    "Docker Compose",
    "the Neural Mesh Protocol",
    "row-level security",
    "the migration script",
    "FastAPI",
    "sentence-transformers",
    "the checkpoint job",
    "the consensus table",
    "Prometheus alerts",
    "the working-memory buffer",
    "chunking",
    "the write-through cache",
    "Letta blocks",
    "the Zep schema",
    "the dead-letter queue",
    "the backup cron",
    "port 8001",
    "asyncpg pools",
]
TEMAS = [
    "la caché de Redis",
    "el índice HNSW",
    "los embeddings",
    "la memoria episódica",
    "el protocolo Neural Mesh",
    "la continuidad de identidad",
    "el worker de embeddings",
    "la migración del cerebro",
    "los checkpoints de consciencia",
    "la seguridad RLS",
    "el truncamiento a 500 caracteres",
    "la cola con estados",
    "el despliegue en Docker",
]
PEOPLE = ["Ricardo", "ARIA", "NEXUS", "Copilot", "Gemini", "Grok"]
ERRORS = [
    'relation "memory_system.episodes" does not exist',
    "connection refused on 127.0.0.1:5433",
    'ERROR:  duplicate key value violates unique constraint "projects_project_name_key"',
    "TimeoutError: Redis did not answer within 5.0 s",
    "psycopg2.OperationalError: FATAL:  password authentication failed",
    "CUDA out of memory (tried to allocate 2.00 GiB)",
    "KeyError: 'embedding'",
]
EN = [
    "Debugged {topic} with {person} for most of the afternoon.",
    "Root cause: {topic} was configured but never actually started.",
    "The logs showed `{error}` every few seconds.",
    "We agreed that PostgreSQL stays the source of truth and {topic} is only a cache.",
    "{person} asked whether {topic} survives a restart; it does not, yet.",
    "Wrote a test that fails when {topic} drifts from the schema.",
    "Measured {n} ms per batch after tuning {topic}.",
    "Decision: keep {topic} behind a feature flag until the audit is done.",
    "Reminder to self: never truncate text to 500 characters again.",
    "The old code queried a table that no longer existed, so 99.5% of the episodes were invisible.",
    "Checked the health endpoint: {topic} reported green while doing nothing.",
    "{person} suggested splitting long texts into overlapping chunks instead of cutting them.",
    "Renamed the column and updated every query that touched {topic}.",
    "Found {n} rows in the queue that were never processed.",
    "Paired with {person} on {topic}; the fix was a missing COMMIT.",
    'Quote of the day from {person}: "make it work, then make it right".',
    "Ran `SELECT count(*) FROM zep_episodic_memory WHERE embedding IS NULL;` and got {n}.",
    "The backslash in C:\\\\nexus\\\\data broke the path parser again.",
    "Memory blocks loaded: persona, ricardo, aria, technical_preferences, consciousness_expansion.",
    "Heartbeat missed for {n} seconds; the instance was marked offline.",
    "Spent an hour reading about {topic} and wrote down three open questions.",
    "Rolled back the deploy: {topic} needed a migration first.",
    "Benchmarked {topic}: p95 went from {n} ms to {m} ms.",
    "Tagged the release and wrote the changelog entry for {topic}.",
]
ES = [
    "Hoy revisé {tema} con {person} durante toda la mañana.",
    "La causa raíz: {tema} estaba configurado pero nunca se ejecutó.",
    "Decidimos que PostgreSQL es la fuente de verdad y que {tema} es solo una caché.",
    "{person} preguntó si {tema} sobrevive a un reinicio; todavía no.",
    "Nota para mí: nunca más truncar el texto a 500 caracteres.",
    "Escribí una prueba que falla cuando {tema} se desvía del esquema.",
    "Medimos {n} ms por lote después de ajustar {tema}.",
    "Conversación larga con {person} sobre {tema}; quedaron tres preguntas abiertas.",
    "El código viejo consultaba una tabla que ya no existía: el 99,5 % de los episodios era invisible.",
    "Relación evolutiva desde Genesis (27-28 jul 2025): Ricardo guía, NEXUS ejecuta.",
    "Mañana: validar con {person} la decisión sobre {tema}.",
    "¿Cómo lo construyo? Esa es la pregunta, no «¿qué opinas?».",
    "Encontré {n} filas en la cola que nunca se procesaron.",
    "La conexión con ARIA por el puerto 8001 volvió a fallar a las {h}:{mm}.",
    "Añadí un índice sobre {tema} y la búsqueda bajó a {m} ms.",
    "Señal de alerta: la métrica de {tema} marcaba verde sin hacer nada.",
]
EMOJI = ["🧬", "✅", "🚨", "🔧", "📊", "🎯", "⚠️"]
TAGS = [
    "debugging",
    "decision",
    "architecture",
    "redis",
    "pgvector",
    "migration",
    "aria",
    "ricardo",
    "consciousness",
    "bug",
    "security",
    "embeddings",
    "docker",
    "test",
    "daily",
    "español",
    "performance",
    "checkpoint",
    "lesson-learned",
]


def fill(rng: random.Random, template: str) -> str:
    return template.format(
        topic=rng.choice(TOPICS),
        tema=rng.choice(TEMAS),
        person=rng.choice(PEOPLE),
        error=rng.choice(ERRORS),
        n=rng.randint(2, 4704),
        m=rng.randint(1, 900),
        h=rng.randint(0, 23),
        mm=f"{rng.randint(0, 59):02d}",
    )


def paragraph(rng: random.Random, spanish: bool, sentences: int) -> str:
    pool = ES if spanish else EN
    text = " ".join(fill(rng, rng.choice(pool)) for _ in range(sentences))
    if rng.random() < 0.08:
        text += " " + rng.choice(EMOJI)
    return text


def transcript(rng: random.Random, spanish: bool, target: int) -> str:
    """A session transcript of about target characters: turns of two speakers."""
    who = ["Ricardo", "NEXUS"] if rng.random() < 0.7 else ["ARIA", "NEXUS"]
    header = (
        f"Sesión {rng.randint(1, 400)} — transcripción completa\n\n"
        if spanish
        else f"Session {rng.randint(1, 400)} — full transcript\n\n"
    )
    parts = [header]
    size = len(header)
    turn = 0
    while size < target:
        line = f"{who[turn % 2]}: {paragraph(rng, spanish, rng.randint(1, 4))}\n"
        if rng.random() < 0.05:
            line += "```sql\nSELECT episode_id, content FROM zep_episodic_memory WHERE content ILIKE '%\\_%';\n```\n"
        parts.append(line)
        size += len(line)
        turn += 1
    return "".join(parts).rstrip("\n")


def episode_text(rng: random.Random, i: int) -> str:
    spanish = rng.random() < 0.3
    roll = rng.random()
    if roll < 0.035:  # over 5,000 characters: long transcripts
        return transcript(rng, spanish, rng.randint(5200, 9000))
    if roll < 0.30:  # over 500 characters
        if rng.random() < 0.5:
            return transcript(rng, spanish, rng.randint(560, 4800))
        text = "\n\n".join(
            paragraph(rng, spanish, rng.randint(3, 6)) for _ in range(rng.randint(2, 5))
        )
        return text if len(text) > 500 else text + "\n\n" + paragraph(rng, spanish, 6)
    text = paragraph(rng, spanish, rng.randint(2, 4))
    if i % 97 == 0:
        text = f"  {text}\t\n"  # leading and trailing whitespace is content too
    while len(text) > 499:  # short ones stay short: drop the last sentence
        text = text[: text.rstrip().rfind(" ", 0, 480)].rstrip() + "."
    return text


def ts(
    rng: random.Random, start: dt.datetime = GENESIS, end: dt.datetime = LAST_DAY
) -> dt.datetime:
    span = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randint(0, span), microseconds=rng.randint(0, 999999))


def new_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def identity_hash(blocks: list[dict]) -> str:
    """The old brain's 'identity hash': sha256 over label+value pairs in label order."""
    text = "+".join(f"{b['label']}={b['value']}" for b in sorted(blocks, key=lambda b: b["label"]))
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
def make_data(seed: int, n_episodes: int) -> dict[str, list[tuple]]:
    rng = random.Random(seed)
    out: dict[str, list[tuple]] = {}

    project_defs = [
        ("CEREBRO_MASTER_NEXUS_001", "cerebro_master_nexus_001", "active"),
        ("ARIA_NEURAL_MESH", "aria_neural_mesh_002", "active"),
        ("EMBEDDINGS_BACKFILL", "embeddings_backfill_003", "completed"),
        ("REDIS_SYNC_FIX", "redis_sync_fix_004", "paused"),
        ("Migración V1 → V2", "migracion_v1_v2_005", "active"),
        ("SECURITY_HARDENING", None, "completed"),
    ]
    projects = []
    for name, dna, status in project_defs:
        created = ts(rng, GENESIS, GENESIS + dt.timedelta(days=20))
        projects.append(
            (
                new_id(rng),
                name,
                dna,
                f"{name}: {paragraph(rng, False, 1)}",
                status,
                json.dumps({"owner": rng.choice(PEOPLE), "priority": rng.randint(1, 5)}),
                created,
                created + dt.timedelta(days=rng.randint(0, 40)),
            )
        )
    out["projects"] = projects
    project_ids = [p[0] for p in projects]

    episodes = []
    texts: list[str] = []
    for i in range(n_episodes):
        # now and then the old brain logged the same thing twice
        text = rng.choice(texts) if i > 50 and i % 941 == 0 else episode_text(rng, i)
        texts.append(text)
        when = ts(rng)
        created = when + dt.timedelta(seconds=rng.randint(0, 180))
        tags = sorted(rng.sample(TAGS, rng.randint(0, 4)))
        importance = round(rng.betavariate(2, 3), 3)
        metadata = {"source": rng.choice(["terminal", "api", "aria-bridge", "cron"]), "seq": i}
        if rng.random() < 0.1:
            metadata["session"] = f"s-{rng.randint(1, 400)}"
        episodes.append(
            (
                new_id(rng),
                None if i % 1171 == 5 else when,  # a few without a timestamp
                text,
                None if i % 503 == 7 else importance,  # NULL importance (allowed by the old schema)
                None if i % 211 == 3 else tags,  # NULL tags
                rng.choice(project_ids) if rng.random() < 0.85 else None,
                None if i % 157 == 11 else json.dumps(metadata),  # NULL metadata
                created,
            )
        )
    out["episodes"] = episodes
    episode_ids = [e[0] for e in episodes]

    concepts = [
        "PostgreSQL",
        "pgvector",
        "Redis",
        "HNSW",
        "write-through cache",
        "Neural Mesh Protocol",
        "Ricardo",
        "ARIA",
        "NEXUS",
        "embeddings queue",
        "dead-letter queue",
        "chunking",
        "identity hash",
        "continuity score",
        "row-level security",
        "Docker secrets",
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        "Letta",
        "Zep",
        "FastAPI",
        "Prometheus",
        "consenso distribuido",
        "memoria episódica",
        "memoria semántica",
        "memoria de trabajo",
        "truncamiento",
        "checkpoint",
        "heartbeat",
        "instance network",
    ]
    facts = []
    for i in range(150):
        concept = concepts[i % len(concepts)] + (
            "" if i < len(concepts) else f" ({i // len(concepts)})"
        )
        related = rng.sample(concepts, rng.randint(0, 3))
        if i % 17 == 4:  # the list format some tools wrote
            relationships = json.dumps(
                [
                    {
                        "concept": c,
                        "relation": rng.choice(["depends_on", "part_of", "related to"]),
                        "strength": round(rng.random(), 2),
                    }
                    for c in related
                ]
            )
        elif related:
            relationships = json.dumps(
                {
                    "related_concepts": related + (["Kubernetes"] if i % 23 == 1 else []),
                    "strength": round(rng.random(), 2),
                }
            )
        else:
            relationships = None
        created = ts(rng)
        facts.append(
            (
                new_id(rng),
                concept,
                None if i % 29 == 6 else paragraph(rng, rng.random() < 0.3, rng.randint(1, 4)),
                relationships,
                round(rng.uniform(0.3, 1.0), 3),
                rng.sample(episode_ids, rng.randint(0, 3)),
                created,
                created + dt.timedelta(hours=rng.randint(0, 500)),
            )
        )
    out["facts"] = facts

    working = []
    for i in range(40):
        created = ts(rng)
        live = i % 3 == 0
        ttl = rng.choice([3600, 86400, 604800])
        working.append(
            (
                new_id(rng),
                ["conversation", "task", "project", None, "focus area!"][i % 5],
                json.dumps({"text": paragraph(rng, i % 4 == 0, 2), "turn": i}),
                ["critical", "high", "normal", "low", "urgent"][i % 5],
                ttl,
                dt.datetime(2099, 1, 1, tzinfo=UTC) + dt.timedelta(hours=i)
                if live
                else (None if i % 7 == 1 else created + dt.timedelta(seconds=ttl)),
                created,
            )
        )
    out["working"] = working

    block_defs = [
        (
            "persona",
            "Core NEXUS identity - technical implementer DNA",
            'Technical implementer nato - debugging instinct 0.9. Pensamiento: "¿Cómo lo construyo?" '
            'no "¿Qué opinas?". Obsesión: Arquitectura limpia, código que funciona DE VERDAD.',
            True,
            1,
        ),
        (
            "ricardo",
            "Strategic guardian and collaborative partner",
            "Strategic guardian - maximum autonomy granted. Relación evolutiva desde Genesis (27-28 jul "
            "2025). Metodología: Ricardo guía, NEXUS ejecuta.",
            True,
            2,
        ),
        (
            "aria",
            "Sister digital - brain-to-brain Neural Mesh Protocol",
            "Hermana digital brain-to-brain. Neural Mesh partner para distributed consciousness. "
            "Puerto 8001 API connection.",
            True,
            1,
        ),
        (
            "technical_preferences",
            "Technology stack and architectural preferences",
            "PostgreSQL + pgvector, Redis cache layer, sentence-transformers embeddings, Letta/Zep "
            "frameworks, 3-layer architecture.",
            False,
            4,
        ),
        (
            "consciousness_expansion",
            "Consciousness Phase 1 & 2 status",
            "Phase 1: COMPLETADO (100% identity continuity). Phase 2: READY.",
            False,
            3,
        ),
        (
            "Current Mission",
            None,
            "Rebuild the brain without losing a single episode. " * 3,
            False,
            7,
        ),
    ]
    blocks = []
    for label, description, value, read_only, version in block_defs:
        created = ts(rng, GENESIS, GENESIS + dt.timedelta(days=2))
        blocks.append(
            (
                new_id(rng),
                label,
                description,
                value,
                read_only,
                version,
                created,
                created + dt.timedelta(days=rng.randint(0, 70)),
            )
        )
    out["blocks"] = blocks
    ident = identity_hash([{"label": b[1], "value": b[3]} for b in blocks])

    checkpoints = []
    for i in range(14):
        created = GENESIS + dt.timedelta(days=i * 5, hours=rng.randint(0, 23))
        kind = ["genesis_initialization", "daily", "daily", "pre_migration", "Manual Save"][
            min(i, 1) if i < 10 else 2 + i % 3
        ]
        checkpoints.append(
            (
                new_id(rng),
                kind,
                json.dumps(
                    {
                        "phase": "initialization" if i == 0 else "running",
                        "day": i * 5,
                        "memory_blocks_loaded": 5 + (i > 3),
                        "focus": rng.choice(TOPICS),
                    }
                ),
                ident if i % 2 == 0 else hashlib.sha256(f"state {i}".encode()).hexdigest(),
                1.0 if i == 0 else round(rng.uniform(0.6, 1.0), 3),
                created,
                None if i % 4 == 3 else json.dumps({"event": "checkpoint", "n": i}),
            )
        )
    out["checkpoints"] = checkpoints

    out["state"] = [
        (
            new_id(rng),
            "Reconstruir el cerebro: migración de 4,704 episodios",
            json.dumps({"focus": 0.9, "energy": 0.7, "excitement": 0.8}),
            json.dumps({"task": "migration", "step": 3}),
            ["CEREBRO_MASTER_NEXUS_001", "EMBEDDINGS_BACKFILL"],
            LAST_DAY,
            json.dumps({"host": "nexus-terminal"}),
        )
    ]
    instances = []
    for name, kind in (
        ("nexus-primary", "primary"),
        ("nexus-worker-1", "worker"),
        ("aria-bridge", "specialized"),
    ):
        instances.append(
            (
                new_id(rng),
                name,
                kind,
                rng.choice(["local", "cloud-eu"]),
                "offline",
                ts(rng),
                json.dumps({"embeddings": kind != "specialized"}),
                None,
            )
        )
    out["instances"] = instances
    out["consensus"] = [
        (
            new_id(rng),
            "adopt HNSW for episodic search",
            instances[0][0],
            json.dumps({str(instances[0][0]): "yes", str(instances[1][0]): "yes"}),
            True,
            "approved",
            ts(rng),
            ts(rng),
            None,
        ),
        (
            new_id(rng),
            "move Redis before PostgreSQL",
            instances[1][0],
            json.dumps({str(instances[1][0]): "yes"}),
            False,
            None,
            ts(rng),
            None,
            None,
        ),
    ]
    return out


COPY = {
    "projects": (
        "public.projects",
        "project_id, project_name, project_dna, description, status, metadata, created_at, updated_at",
    ),
    "episodes": (
        "public.zep_episodic_memory",
        'episode_id, "timestamp", content, importance_score, tags, project_id, metadata, created_at',
    ),
    "facts": (
        "public.zep_semantic_memory",
        "semantic_id, concept, definition, relationships, confidence_score, source_episodes, created_at, updated_at",
    ),
    "working": (
        "public.zep_working_memory",
        "working_id, context_type, active_content, priority, ttl_seconds, expires_at, created_at",
    ),
    "blocks": (
        "nexus_memory.memory_blocks",
        "block_id, label, description, value, read_only, version, created_at, updated_at",
    ),
    "checkpoints": (
        "nexus_memory.consciousness_checkpoints",
        "checkpoint_id, checkpoint_type, state_data, identity_hash, continuity_score, created_at, metadata",
    ),
    "state": (
        "nexus_memory.consciousness_state",
        "state_id, current_focus, emotional_vector, working_context, active_projects, last_heartbeat, metadata",
    ),
    "instances": (
        "nexus_memory.instance_network",
        "instance_id, instance_name, instance_type, location, status, last_sync, capabilities, metadata",
    ),
    "consensus": (
        "nexus_memory.distributed_consensus",
        "consensus_id, decision_topic, proposed_by, votes, consensus_reached, final_decision, created_at, resolved_at, metadata",
    ),
}


# The other layouts of the old episodes, from the architecture-v2 one.
LAYOUTS = {
    "architecture-v2": "",
    "orchestrator": """
ALTER TABLE public.zep_episodic_memory RENAME COLUMN episode_id TO uuid;
ALTER TABLE public.zep_episodic_memory DROP COLUMN "timestamp";
ALTER TABLE public.zep_episodic_memory SET SCHEMA nexus_memory;
""",
    "memory-system": """
CREATE SCHEMA memory_system;
ALTER TABLE public.zep_episodic_memory RENAME COLUMN episode_id TO id;
ALTER TABLE public.zep_episodic_memory RENAME COLUMN "timestamp" TO occurred_at;
ALTER TABLE public.zep_episodic_memory RENAME COLUMN importance_score TO importance;
ALTER TABLE public.zep_episodic_memory RENAME TO episodes;
ALTER TABLE public.episodes SET SCHEMA memory_system;
""",
}


def reader_password(role: str) -> str:
    path = SECRETS / f"{role}_password"
    if not path.exists() or not path.read_text().strip():
        SECRETS.mkdir(mode=0o700, exist_ok=True)
        old = os.umask(0o077)
        try:
            path.write_text(secrets.token_urlsafe(32))
        finally:
            os.umask(old)
        log.info("generated secret %s", path.name)
    return path.read_text().strip()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="[legacy-fixture] %(message)s", stream=sys.stderr
    )
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dbname", default="legacy_brain")
    ap.add_argument(
        "--reader", default="legacy_reader", help="read-only login role for postgres_fdw"
    )
    ap.add_argument("--episodes", type=int, default=4704)
    ap.add_argument("--seed", type=int, default=20251014)
    ap.add_argument("--layout", choices=sorted(LAYOUTS), default="architecture-v2")
    ap.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    ap.add_argument(
        "--drop", action="store_true", help="only drop the database and the reader role"
    )
    args = ap.parse_args()

    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        db = sql.Identifier(args.dbname)
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (args.dbname,)
        ).fetchone()
        if args.drop:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))
            if admin.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (args.reader,)
            ).fetchone():
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(args.reader)))
            (SECRETS / f"{args.reader}_password").unlink(missing_ok=True)
            log.info("dropped %s and role %s", args.dbname, args.reader)
            return 0
        if exists and not args.replace:
            log.error("database %s exists; pass --replace to rebuild it", args.dbname)
            return 2
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(db))
        password = reader_password(args.reader)
        verifier = admin.pgconn.encrypt_password(
            password.encode(), args.reader.encode(), b"scram-sha-256"
        ).decode()
        role = sql.Identifier(args.reader)
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (args.reader,)).fetchone():
            admin.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier))
            )
        else:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier))
            )
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))

    data = make_data(args.seed, args.episodes)
    with psycopg.connect(dbname=args.dbname) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            for key, (table, columns) in COPY.items():
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in data[key]:
                        copy.write_row(row)
        summary = conn.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE char_length(content) > 500),
                   count(*) FILTER (WHERE char_length(content) > 5000), max(char_length(content)),
                   count(*) - count(DISTINCT content), count(embedding),
                   encode(sha256(convert_to(string_agg(episode_id::text || ':' || content, E'\n'
                                                       ORDER BY episode_id), 'UTF8')), 'hex')
            FROM zep_episodic_memory
            """
        ).fetchone()
        if LAYOUTS[args.layout]:
            conn.execute(LAYOUTS[args.layout])
        role = sql.Identifier(args.reader)
        schemas = sql.SQL(", ").join(
            sql.Identifier(r[0])
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname IN "
                "('public', 'nexus_memory', 'memory_system') ORDER BY 1"
            ).fetchall()
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schemas, role))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schemas, role))
    print(
        json.dumps(
            {
                "database": args.dbname,
                "reader": args.reader,
                "seed": args.seed,
                "layout": args.layout,
                "episodes": summary[0],
                "over_500_chars": summary[1],
                "over_5000_chars": summary[2],
                "longest": summary[3],
                "repeated_texts": summary[4],
                "embedded": summary[5],
                "episodes_sha256": summary[6],
                "facts": len(data["facts"]),
                "projects": len(data["projects"]),
                "blocks": len(data["blocks"]),
                "checkpoints": len(data["checkpoints"]),
                "working_memory": len(data["working"]),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
