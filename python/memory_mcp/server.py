"""The MCP server: each tool is one call of a memory.* SQL function, as the agent.

No memory logic lives here: validation, isolation, ranking and limits are the SQL API's
(README, "SQL API"). A SQL error comes back as a tool error whose text is a JSON object
with the message, the SQLSTATE and, when the function gives them, the detail and hint.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import ToolAnnotations
from pydantic import Field

from memory_mcp.db import Database, Settings

INSTRUCTIONS = """\
Your long-term memory, kept in PostgreSQL under your own identity (no other agent can
read or change it). Store what happened with `remember`; find it again by meaning or by
words with `search_memory`. Keep durable knowledge as facts valid in time
(`learn_fact`, `invalidate_fact`, `search_facts`). Keep short-lived state in working
memory (`set_working_memory`, `get_working_memory`, `clear_working_memory`). Your core
blocks (persona, goals, ...) are who you are: read them with `get_core_blocks` or the
resources memory://core-blocks, change one with `set_core_block` (a block an operator
made read-only cannot be changed). Before answering, `build_context` gathers what is
relevant within a token budget. `create_checkpoint` and `list_checkpoints` snapshot your
identity. Over a lifetime: `forget_session` and `forget_project` delete for good;
`set_retention_policy` lets a background job remove old or unimportant episodes
(`list_retention_log` shows what it removed); near-duplicates are merged in the background
(`list_consolidations`, `undo_consolidation`; `resolve_episode` maps a merged id to the one
kept). Errors are JSON with `error`, `sqlstate` and often a `hint`: nothing was stored.
Texts may be in any language (English and Spanish are stemmed for word search)."""

Text = Annotated[str, Field(description="text in any language")]
Time = Annotated[
    str | None,
    Field(description="an ISO 8601 time such as 2025-11-01T09:30:00Z (default: now)"),
]


def build_server(settings: Settings) -> MCPServer:
    """The MCP server of one agent, on one database connection."""
    db = Database(settings)
    server = MCPServer("agent-memory", instructions=INSTRUCTIONS)

    @server.tool()
    async def remember(
        content: Annotated[
            str, Field(description="what happened, in full (up to 500,000 characters)")
        ],
        importance: Annotated[float | None, Field(description="0..1, default 0.5")] = None,
        tags: Annotated[list[str] | None, Field(description="labels such as decision, bug")] = None,
        project: Annotated[str | None, Field(description="the project's name, if any")] = None,
        occurred_at: Time = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="a JSON object")] = None,
        session_id: Annotated[str | None, Field(description="the conversation or session")] = None,
    ) -> dict[str, Any]:
        """Store an episode: something that happened, was said or decided.

        The episode is durable at once and becomes findable by meaning about a second
        later (its embedding is computed in the background); word search finds it at
        once. Returns its episode_id."""
        episode_id = await db.call(
            "remember",
            {
                "content": (content, "text"),
                "importance": (importance, "real"),
                "tags": (tags, "text[]"),
                "project": (project, "text"),
                "occurred_at": (occurred_at, "timestamptz"),
                "metadata": (metadata, "jsonb"),
                "session_id": (session_id, "text"),
            },
            rows="one",
        )
        return {"episode_id": episode_id}

    @server.tool()
    async def search_memory(
        query: Annotated[str, Field(description="a question or words to look for")],
        k: Annotated[
            int | None, Field(description="how many episodes, 1..1000, default 10")
        ] = None,
        mode: Annotated[
            Literal["hybrid", "vector", "text"] | None,
            Field(description="hybrid (default): meaning and words; vector: meaning; text: words"),
        ] = None,
        tags: Annotated[
            list[str] | None, Field(description="only episodes with all these tags")
        ] = None,
        project: Annotated[str | None, Field(description="only this project's episodes")] = None,
        session_id: Annotated[str | None, Field(description="only this session's episodes")] = None,
        since: Annotated[
            str | None, Field(description="only episodes that occurred at or after this ISO time")
        ] = None,
        until: Annotated[
            str | None, Field(description="only episodes that occurred before this ISO time")
        ] = None,
        min_importance: Annotated[
            float | None, Field(description="only episodes at least this important (0..1)")
        ] = None,
        include_shared: Annotated[
            bool | None,
            Field(description="also the episodes other agents shared with you (default false)"),
        ] = None,
    ) -> dict[str, Any]:
        """Search your episodes by meaning and by words, best first.

        Each result has episode_id, content, score (0..1, relevance blended with recency
        and importance), vector_score (NULL when only words were used), text_score,
        occurred_at, importance, tags, session_id, metadata, matched_chunk (the part
        of a long episode that matched) and owner (the agent it belongs to: yours, or
        with include_shared the agent that shared it with you)."""
        episodes = await db.call(
            "search_episodic_memory",
            {
                "query": (query, "text"),
                "k": (k, "integer"),
                "mode": (mode, "text"),
                "tags": (tags, "text[]"),
                "project": (project, "text"),
                "session_id": (session_id, "text"),
                "since": (since, "timestamptz"),
                "until": (until, "timestamptz"),
                "min_importance": (min_importance, "real"),
                "include_shared": (include_shared, "boolean"),
            },
            rows="all",
        )
        return {"episodes": episodes}

    @server.tool()
    async def learn_fact(
        concept: Annotated[str, Field(description="what the fact is about, e.g. api, deploy")],
        statement: Annotated[str, Field(description="the fact, as a sentence")],
        confidence: Annotated[float | None, Field(description="0..1, default 0.5")] = None,
        source_episodes: Annotated[
            list[str] | None, Field(description="episode ids it comes from")
        ] = None,
        valid_from: Time = None,
        supersedes: Annotated[
            list[str] | None, Field(description="ids of facts this one replaces (they are closed)")
        ] = None,
    ) -> dict[str, Any]:
        """Learn a fact that holds from valid_from on (world time).

        Facts are never rewritten: to change one, learn the new fact with supersedes set
        to the old fact's id. Returns the new fact_id."""
        fact_id = await db.call(
            "learn_fact",
            {
                "concept": (concept, "text"),
                "statement": (statement, "text"),
                "confidence": (confidence, "real"),
                "source_episodes": (source_episodes, "uuid[]"),
                "valid_from": (valid_from, "timestamptz"),
                "supersedes": (supersedes, "uuid[]"),
            },
            rows="one",
        )
        return {"fact_id": fact_id}

    @server.tool()
    async def invalidate_fact(
        fact_id: Annotated[str, Field(description="the fact's id")],
        valid_to: Annotated[
            str | None, Field(description="ISO time it stopped holding (default: now)")
        ] = None,
    ) -> dict[str, Any]:
        """Close a fact: it held until valid_to and no longer after. It stays on record
        for searches as of earlier times."""
        await db.call(
            "invalidate_fact",
            {"fact_id": (fact_id, "uuid"), "valid_to": (valid_to, "timestamptz")},
            rows="one",
        )
        return {"fact_id": fact_id, "invalidated": True}

    @server.tool()
    async def search_facts(
        query: Annotated[str, Field(description="a question or words")],
        k: Annotated[int | None, Field(description="how many facts, default 10")] = None,
        as_of: Annotated[
            str | None, Field(description="ISO time: facts that held then (default: now)")
        ] = None,
        include_invalid: Annotated[
            bool | None, Field(description="true: every fact, whatever its validity")
        ] = None,
        mode: Annotated[
            Literal["hybrid", "vector", "text"] | None, Field(description="default hybrid")
        ] = None,
    ) -> dict[str, Any]:
        """Search the facts that held at a time (as_of, default now), best first.

        Each result has fact_id, concept, statement, confidence, score, valid_from,
        valid_to and source_episodes."""
        facts = await db.call(
            "search_semantic_memory",
            {
                "query": (query, "text"),
                "k": (k, "integer"),
                "as_of": (as_of, "timestamptz"),
                "include_invalid": (include_invalid, "boolean"),
                "mode": (mode, "text"),
            },
            rows="all",
        )
        return {"facts": facts}

    @server.tool()
    async def set_working_memory(
        context_type: Annotated[str, Field(description="a group such as conversation or task")],
        content: Annotated[dict[str, Any], Field(description="a JSON object")],
        ttl: Annotated[
            str | None, Field(description="how long it lives, e.g. '30 minutes' (default 24 hours)")
        ] = None,
        priority: Annotated[
            Literal["low", "normal", "high", "critical"] | None, Field(description="default normal")
        ] = None,
        key: Annotated[
            str | None, Field(description="an item with the same key is replaced")
        ] = None,
    ) -> dict[str, Any]:
        """Keep something on your mind for a while (it expires after ttl). Returns its
        working_id."""
        working_id = await db.call(
            "set_working_memory",
            {
                "context_type": (context_type, "text"),
                "content": (content, "jsonb"),
                "ttl": (ttl, "interval"),
                "priority": (priority, "text"),
                "key": (key, "text"),
            },
            rows="one",
        )
        return {"working_id": working_id}

    @server.tool()
    async def get_working_memory(
        context_type: Annotated[
            str | None, Field(description="one group, or all when omitted")
        ] = None,
    ) -> dict[str, Any]:
        """Your live working-memory items, most important first, then newest."""
        items = await db.call(
            "get_working_memory", {"context_type": (context_type, "text")}, rows="all"
        )
        return {"items": items}

    @server.tool()
    async def clear_working_memory(
        context_type: Annotated[
            str | None, Field(description="one group, or all when omitted")
        ] = None,
    ) -> dict[str, Any]:
        """Forget working-memory items; returns how many live items were removed."""
        removed = await db.call(
            "clear_working_memory", {"context_type": (context_type, "text")}, rows="one"
        )
        return {"removed": removed}

    @server.tool()
    async def get_core_blocks() -> dict[str, Any]:
        """Your core blocks (persona, goals, ...): label, value, description,
        char_limit, read_only, version, updated_at."""
        return {"blocks": await db.call("get_blocks", {}, rows="all")}

    @server.tool()
    async def set_core_block(
        label: Annotated[str, Field(description="the block's label, e.g. persona")],
        value: Annotated[str, Field(description="the whole new text of the block")],
        description: Annotated[str | None, Field(description="what the block is for")] = None,
        char_limit: Annotated[int | None, Field(description="1..100000, default 5000")] = None,
        read_only: Annotated[
            bool | None, Field(description="true locks it against your own changes")
        ] = None,
    ) -> dict[str, Any]:
        """Create or replace one of your core blocks; returns its version. A read-only
        block cannot be changed by you (error 42501); only an operator can."""
        version = await db.call(
            "set_block",
            {
                "label": (label, "text"),
                "value": (value, "text"),
                "description": (description, "text"),
                "char_limit": (char_limit, "integer"),
                "read_only": (read_only, "boolean"),
            },
            rows="one",
        )
        return {"label": label, "version": version}

    @server.tool()
    async def build_context(
        query: Annotated[str, Field(description="what the prompt is about")],
        token_budget: Annotated[
            int | None, Field(description="tokens to fill, default 2000")
        ] = None,
        max_working_items: Annotated[int | None, Field(description="default 7")] = None,
    ) -> dict[str, Any]:
        """Gather what is relevant for a prompt within a token budget: your blocks,
        working memory, the best episodes and facts (whole items, never cut), with
        token_estimate, omitted counts and search_degraded."""
        return await db.call(
            "build_context",
            {
                "query": (query, "text"),
                "token_budget": (token_budget, "integer"),
                "max_working_items": (max_working_items, "integer"),
            },
            rows="one",
        )

    @server.tool()
    async def create_checkpoint(
        kind: Annotated[str | None, Field(description="a lower-case word, default manual")] = None,
        state: Annotated[
            dict[str, Any] | None, Field(description="a JSON object to keep with it")
        ] = None,
    ) -> dict[str, Any]:
        """Snapshot your core blocks with their identity hash; returns checkpoint_id."""
        checkpoint_id = await db.call(
            "create_checkpoint", {"kind": (kind, "text"), "state": (state, "jsonb")}, rows="one"
        )
        return {"checkpoint_id": checkpoint_id}

    @server.tool()
    async def list_checkpoints(
        k: Annotated[
            int | None, Field(description="how many, newest first, 1..1000, default 20")
        ] = None,
    ) -> dict[str, Any]:
        """Your checkpoints, newest first: checkpoint_id, kind, state, identity_hash,
        continuity_score, block_count, created_at, created_by."""
        return {"checkpoints": await db.call("list_checkpoints", {"k": (k, "integer")}, rows="all")}

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True))
    async def forget_session(
        session_id: Annotated[str, Field(description="the session whose episodes to delete")],
    ) -> dict[str, Any]:
        """Delete, for good, every episode of one session with its vectors; returns how
        many (0 when there were none)."""
        removed = await db.call("forget_session", {"session_id": (session_id, "text")}, rows="one")
        return {"removed": removed}

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    async def forget_project(
        name: Annotated[str, Field(description="the project to delete with all its episodes")],
    ) -> dict[str, Any]:
        """Delete, for good, one project and every episode in it; returns how many
        episodes. A project that does not exist is an error (P0002)."""
        removed = await db.call("forget_project", {"name": (name, "text")}, rows="one")
        return {"removed": removed}

    @server.tool()
    async def set_retention_policy(
        max_age: Annotated[
            str | None, Field(description="remove episodes older than this, e.g. '365 days'")
        ] = None,
        max_episodes: Annotated[
            int | None, Field(description="keep at most this many, the most important")
        ] = None,
        importance_floor: Annotated[
            float | None,
            Field(description="remove episodes whose importance fell under this (0..1)"),
        ] = None,
        protected_tags: Annotated[
            list[str] | None, Field(description="episodes with any of these tags are never removed")
        ] = None,
        decay_half_life: Annotated[
            str | None, Field(description="importance halves with age at this pace, e.g. '90 days'")
        ] = None,
    ) -> dict[str, Any]:
        """Set (replace) your retention policy; a background job applies it in batches.
        Omitted rules do not apply. Returns the policy."""
        return await db.call(
            "set_retention_policy",
            {
                "max_age": (max_age, "interval"),
                "max_episodes": (max_episodes, "integer"),
                "importance_floor": (importance_floor, "real"),
                "protected_tags": (protected_tags, "text[]"),
                "decay_half_life": (decay_half_life, "interval"),
            },
            rows="one",
        )

    @server.tool()
    async def clear_retention_policy() -> dict[str, Any]:
        """Remove your retention policy: nothing is removed by age or importance any more."""
        return {"cleared": await db.call("clear_retention_policy", {}, rows="one")}

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def list_retention_log(
        k: Annotated[
            int | None, Field(description="how many, newest first, 1..1000, default 20")
        ] = None,
    ) -> dict[str, Any]:
        """What retention removed, newest first: episode_id, rule, occurred_at, tags,
        importance, effective_importance, access_count, removed_at (the text is gone)."""
        return {"removed": await db.call("list_retention_log", {"k": (k, "integer")}, rows="all")}

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def list_consolidations(
        k: Annotated[
            int | None, Field(description="how many, newest first, 1..1000, default 20")
        ] = None,
    ) -> dict[str, Any]:
        """Near-duplicate merges, newest first: consolidation_id, kept_id, merged_id,
        merged_content, cosine, text_similarity, added_tags, consolidated_at, undone_at."""
        return {
            "consolidations": await db.call(
                "list_consolidations", {"k": (k, "integer")}, rows="all"
            )
        }

    @server.tool()
    async def undo_consolidation(
        consolidation_id: Annotated[int, Field(description="from list_consolidations")],
    ) -> dict[str, Any]:
        """Bring a merged episode back exactly as it was; returns its episode_id."""
        episode_id = await db.call(
            "undo_consolidation", {"consolidation_id": (consolidation_id, "bigint")}, rows="one"
        )
        return {"episode_id": episode_id}

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def resolve_episode(
        episode_id: Annotated[str, Field(description="an episode id you hold")],
    ) -> dict[str, Any]:
        """The id under which an episode lives now: itself, the episode it was merged into,
        or null when it is gone."""
        return {
            "episode_id": await db.call(
                "resolve_episode", {"episode_id": (episode_id, "uuid")}, rows="one"
            )
        }

    @server.tool()
    async def share_memory(
        scope: Annotated[
            Literal["project", "tag", "session"],
            Field(description="what to share: one of your projects, a tag, or a session"),
        ],
        with_agent: Annotated[str, Field(description="the name of the agent that may read it")],
        value: Annotated[str, Field(description="the project's name, the tag, or the session id")],
    ) -> dict[str, Any]:
        """Let another agent read your episodes of a project, a tag or a session (those
        there now and those you write later), until unshare_memory. It can search them
        with include_shared; it can never change them. Returns whether the grant is new."""
        new = await db.call(
            "share",
            {
                "scope": (scope, "text"),
                "with_agent": (with_agent, "text"),
                "scope_value": (value, "text"),
            },
            rows="one",
        )
        return {"shared": True, "new": new}

    @server.tool()
    async def unshare_memory(
        scope: Annotated[
            Literal["project", "tag", "session"],
            Field(description="the scope of the grant: project, tag or session"),
        ],
        with_agent: Annotated[str, Field(description="the agent you shared with")],
        value: Annotated[str, Field(description="the project's name, the tag, or the session id")],
    ) -> dict[str, Any]:
        """Revoke a grant of share_memory: the other agent's next call no longer sees
        those episodes. Returns whether a grant was removed."""
        removed = await db.call(
            "unshare",
            {
                "scope": (scope, "text"),
                "with_agent": (with_agent, "text"),
                "scope_value": (value, "text"),
            },
            rows="one",
        )
        return {"removed": removed}

    @server.tool()
    async def list_shares() -> dict[str, Any]:
        """What you share (mine: with_agent, scope, scope_value, granted_at, granted_by)
        and what other agents share with you (with_me: owner, scope, scope_value,
        granted_at)."""
        return {
            "mine": await db.call("my_shares", {}, rows="all"),
            "with_me": await db.call("shared_with_me", {}, rows="all"),
        }

    @server.resource(
        "memory://core-blocks",
        name="core-blocks",
        description="All your core blocks as JSON",
        mime_type="application/json",
    )
    async def core_blocks() -> str:
        return json.dumps(await _blocks(db), ensure_ascii=False)

    @server.resource(
        "memory://core-blocks/{label}",
        name="core-block",
        description="The text of one core block",
        mime_type="text/plain",
    )
    async def core_block(label: str) -> str:
        for block in await _blocks(db):
            if block["label"] == label:
                return block["value"]
        raise ResourceError(f"no core block labelled {label!r}")

    return server


async def _blocks(db: Database) -> list[dict[str, Any]]:
    try:
        return await db.call("get_blocks", {}, rows="all")
    except Exception as exc:  # a ToolError: resources report ResourceError
        raise ResourceError(str(exc)) from None
