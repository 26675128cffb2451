"""The MCP server (python/memory_mcp) against the real stack, through the SDK's client.

Each scenario starts `python -m memory_mcp` as a subprocess the way an editor does
(stdio, the agent's login in a libpq URI, the password in a PGPASSFILE) and talks to it
with the SDK's own stdio_client and ClientSession. Two agents with random passwords are
created for the module and dropped at the end with everything they stored.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from conftest import CONFIG, ROOT, conninfo, create_login_agent, drop_login_agents
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

PYTHON = str(ROOT / ".venv" / "bin" / "python")
TOOLS = {
    "remember", "search_memory", "learn_fact", "invalidate_fact", "search_facts",
    "set_working_memory", "get_working_memory", "clear_working_memory",
    "get_core_blocks", "set_core_block", "build_context", "create_checkpoint",
    "list_checkpoints", "forget_session", "forget_project", "set_retention_policy",
    "clear_retention_policy", "list_retention_log", "list_consolidations",
    "undo_consolidation", "resolve_episode",
    "share_memory", "unshare_memory", "list_shares",
}  # fmt: skip
# tools without arguments: nothing to get wrong
NO_ARGUMENTS = {"get_core_blocks", "clear_retention_policy", "list_shares"}


@dataclass
class Agent:
    name: str
    role: str
    pgpass: Path
    agent_id: Any = None


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Agent]]:
    suffix = secrets.token_hex(4)
    folder = tmp_path_factory.mktemp("mcp")
    made: dict[str, Agent] = {}
    with psycopg.connect(conninfo(), autocommit=True) as su:
        try:
            for label in ("a", "b"):
                role = f"test_mcp_{label}_{suffix}"
                password = secrets.token_urlsafe(24)
                pgpass = folder / f"{label}.pgpass"
                pgpass.write_text(f"127.0.0.1:{CONFIG['PGPORT_MEMORY']}:*:{role}:{password}\n")
                pgpass.chmod(0o600)
                agent = Agent(f"Mcp{label.upper()}{suffix}", role, pgpass)
                agent.agent_id = create_login_agent(su, agent.name, role, password)
                made[label] = agent
            yield made
        finally:
            su.close()  # a test restarts PostgreSQL: clean up on a fresh connection
            with psycopg.connect(conninfo(), autocommit=True) as clean:
                drop_login_agents(
                    clean, [a.role for a in made.values()], [a.agent_id for a in made.values()]
                )


def server_params(role: str, pgpass: Path, **env: str) -> StdioServerParameters:
    dsn = f"postgresql://{role}@127.0.0.1:{CONFIG['PGPORT_MEMORY']}/{CONFIG['MEMORY_DB']}"
    return StdioServerParameters(
        command=PYTHON,
        args=["-m", "memory_mcp", "--dsn", dsn],
        env={"PGPASSFILE": str(pgpass), "MEMORY_MCP_CONNECT_TIMEOUT": "2", **env},
        cwd=str(ROOT),
    )


@asynccontextmanager
async def session(agent: Agent, role: str | None = None) -> AsyncIterator[ClientSession]:
    """An MCP session with a server started as an editor starts it (stdio)."""
    params = server_params(role or agent.role, agent.pgpass)
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (r, w),
            ClientSession(r, w, read_timeout_seconds=60) as s,
        ):
            await s.initialize()
            yield s


def agent_connection(agent: Agent) -> psycopg.Connection:
    """A direct connection as the agent (its password from its PGPASSFILE)."""
    return psycopg.connect(
        host="127.0.0.1", port=CONFIG["PGPORT_MEMORY"], dbname=CONFIG["MEMORY_DB"],
        user=agent.role, passfile=str(agent.pgpass), autocommit=True,
    )  # fmt: skip


async def ok(s: ClientSession, tool: str, **args: Any) -> Any:
    result = await s.call_tool(tool, args)
    assert not result.is_error, f"{tool}: {result.content}"
    return result.structured_content


async def err(s: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    """The tool's error as the JSON object the server sends (message, sqlstate, hint)."""
    result = await s.call_tool(tool, args)
    assert result.is_error, f"{tool} should have failed: {result.structured_content}"
    text = result.content[0].text
    prefix = f"Error executing tool {tool}: "  # the SDK's wording around a ToolError
    if text.startswith(prefix + "{"):
        return json.loads(text[len(prefix) :])
    return {"error": text, "sqlstate": None}  # refused by the JSON schema, before any SQL


async def wait_embedded(s: ClientSession, query: str, episode_id: str, **filters: Any) -> dict:
    """Polls a vector search until the daemon has embedded the episode (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = await ok(s, "search_memory", query=query, mode="vector", **filters)
        for e in found["episodes"]:
            if e["episode_id"] == episode_id:
                return e
        await anyio.sleep(0.3)
    raise AssertionError(f"episode {episode_id} not found by meaning within 60 s")


def counts(agent: Agent) -> tuple:
    """What the agent has stored, counted as the superuser (for 'nothing changed')."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        return su.execute(
            "SELECT (SELECT count(*) FROM memory.episodes WHERE agent_id = %(a)s),"
            " (SELECT count(*) FROM memory.facts WHERE agent_id = %(a)s),"
            " (SELECT count(*) FROM memory.working_memory WHERE agent_id = %(a)s),"
            " (SELECT count(*) FROM memory.blocks WHERE agent_id = %(a)s),"
            " (SELECT count(*) FROM memory.checkpoints WHERE agent_id = %(a)s),"
            " (SELECT max(version) FROM memory.blocks WHERE agent_id = %(a)s)",
            {"a": agent.agent_id},
        ).fetchone()


def test_every_tool_round_trip_and_isolation(agents: dict[str, Agent]) -> None:
    a, b = agents["a"], agents["b"]

    async def scenario() -> None:
        async with session(a) as sa, session(b) as sb:
            listed = {t.name for t in (await sa.list_tools()).tools}
            assert listed >= TOOLS
            for tool in (await sa.list_tools()).tools:
                assert tool.description and tool.input_schema["type"] == "object"

            # remember, then find it by meaning (no shared word) once it is embedded,
            # ahead of an unrelated episode
            text = "We settled on Raft so that the cluster replicas agree on one leader."
            ep = (await ok(sa, "remember", content=text, importance=0.9, tags=["decision"],
                           project="cerebro", metadata={"source": "meeting"},
                           session_id="s-1"))["episode_id"]  # fmt: skip
            other = (await ok(sa, "remember", content="Los viernes la cafetería sirve paella."))[
                "episode_id"
            ]
            query = "which consensus algorithm did we choose?"
            hit = await wait_embedded(sa, query, ep)
            assert hit["vector_score"] > 0 and hit["content"] == text
            await wait_embedded(sa, "paella", other)
            ranked = await ok(sa, "search_memory", query=query, mode="vector", k=2)
            assert [e["episode_id"] for e in ranked["episodes"]] == [ep, other]
            for mode in ("hybrid", "text"):
                found = await ok(sa, "search_memory", query="Raft replicas", mode=mode,
                                 tags=["decision"], project="cerebro", session_id="s-1",
                                 since="2000-01-01T00:00:00Z", min_importance=0.5, k=5)  # fmt: skip
                assert [e["episode_id"] for e in found["episodes"]] == [ep]
            assert (await ok(sa, "search_memory", query="Raft", tags=["other"]))["episodes"] == []

            # facts valid in time
            old = (await ok(sa, "learn_fact", concept="api", statement="The API is a FastAPI service.",
                            confidence=0.6, valid_from="2025-10-01T00:00:00Z",
                            source_episodes=[ep]))["fact_id"]  # fmt: skip
            new = (await ok(sa, "learn_fact", concept="api",
                            statement="The API is SQL functions in PostgreSQL.", confidence=0.95,
                            valid_from="2025-11-01T00:00:00Z", supersedes=[old]))["fact_id"]  # fmt: skip
            then = await ok(sa, "search_facts", query="what is the API?", as_of="2025-10-15T00:00:00Z",
                            mode="text")  # fmt: skip
            assert [f["fact_id"] for f in then["facts"]] == [old]
            now = await ok(sa, "search_facts", query="what is the API?", mode="text")
            assert [f["fact_id"] for f in now["facts"]] == [new]
            await ok(sa, "invalidate_fact", fact_id=new)
            assert (await ok(sa, "search_facts", query="what is the API?", mode="text"))[
                "facts"
            ] == []
            every = await ok(
                sa, "search_facts", query="API", include_invalid=True, mode="text", k=5
            )
            assert {f["fact_id"] for f in every["facts"]} == {old, new}

            # working memory
            await ok(sa, "set_working_memory", context_type="task", content={"step": 1},
                     ttl="30 minutes", priority="high", key="current")  # fmt: skip
            await ok(
                sa, "set_working_memory", context_type="task", content={"step": 2}, key="current"
            )
            items = (await ok(sa, "get_working_memory", context_type="task"))["items"]
            assert [i["content"] for i in items] == [{"step": 2}]
            assert (await ok(sa, "clear_working_memory", context_type="task"))["removed"] == 1
            assert (await ok(sa, "get_working_memory"))["items"] == []

            # core blocks, also as resources
            v = await ok(sa, "set_core_block", label="persona", value="Soy un implementador técnico.",
                         description="who I am")  # fmt: skip
            assert v["version"] == 1
            blocks = (await ok(sa, "get_core_blocks"))["blocks"]
            assert [(x["label"], x["value"]) for x in blocks] == [
                ("persona", "Soy un implementador técnico.")
            ]
            whole = await sa.read_resource("memory://core-blocks")
            assert json.loads(whole.contents[0].text)[0]["label"] == "persona"
            one = await sa.read_resource("memory://core-blocks/persona")
            assert one.contents[0].text == "Soy un implementador técnico."

            # context for a prompt, checkpoints
            ctx = await ok(sa, "build_context", query="consensus decision", token_budget=500)
            assert ctx["blocks"] and ctx["token_estimate"] <= 500
            assert ep in json.dumps(ctx)
            cp = (await ok(sa, "create_checkpoint", kind="manual", state={"note": "t"}))[
                "checkpoint_id"
            ]
            listed_cp = (await ok(sa, "list_checkpoints", k=5))["checkpoints"]
            assert listed_cp[0]["checkpoint_id"] == cp and listed_cp[0]["block_count"] == 1

            # B, another agent's server, sees nothing of A's
            for mode in ("hybrid", "vector", "text"):
                q = "which consensus algorithm did we choose? Raft consenso"
                assert (await ok(sb, "search_memory", query=q, mode=mode))["episodes"] == []
            assert (await ok(sb, "search_facts", query="API", include_invalid=True))["facts"] == []
            assert (await ok(sb, "get_core_blocks"))["blocks"] == []
            assert (await ok(sb, "list_checkpoints"))["checkpoints"] == []
            assert (await ok(sb, "get_working_memory"))["items"] == []
            bctx = await ok(sb, "build_context", query="consensus decision")
            assert ep not in json.dumps(bctx) and not bctx["blocks"]
            # A's ids are unknown to B, exactly as ids that do not exist
            gone = await err(sb, "invalidate_fact", fact_id=old)
            assert gone["sqlstate"] == "P0002"
            r = await sb.read_resource("memory://core-blocks")
            assert json.loads(r.contents[0].text) == []

            # sharing (include_shared): nothing of A's before a grant; with one, B finds A's
            # tagged episode marked with its owner; without include_shared, still nothing
            q = "Raft replicas"
            assert (await ok(sb, "search_memory", query=q, include_shared=True))["episodes"] == []
            assert (await ok(sa, "share_memory", scope="tag", with_agent=b.name, value="decision"))[
                "new"
            ]
            got = await ok(sb, "search_memory", query=q, mode="text", include_shared=True)
            assert [(e["episode_id"], e["owner"]) for e in got["episodes"]] == [(ep, a.name)]
            assert (await ok(sb, "search_memory", query=q, mode="text"))["episodes"] == []
            mine = (await ok(sa, "search_memory", query=q))["episodes"]
            assert mine and {e["owner"] for e in mine} == {a.name}
            a_lists, b_lists = await ok(sa, "list_shares"), await ok(sb, "list_shares")
            assert [(x["with_agent"], x["scope"], x["scope_value"]) for x in a_lists["mine"]] == [
                (b.name, "tag", "decision")
            ]
            assert a_lists["with_me"] == [] and b_lists["mine"] == []
            assert [(x["owner"], x["scope_value"]) for x in b_lists["with_me"]] == [
                (a.name, "decision")
            ]
            # the grantee cannot revoke or widen the owner's grant: its unshare names its own
            assert not (
                await ok(sb, "unshare_memory", scope="tag", with_agent=a.name, value="decision")
            )["removed"]
            assert (
                await ok(sa, "unshare_memory", scope="tag", with_agent=b.name, value="decision")
            )["removed"]
            assert (await ok(sb, "search_memory", query=q, include_shared=True))["episodes"] == []

    anyio.run(scenario)


def as_operator(sql: str) -> None:
    """What a pg_cron job would run (retention, consolidation), run now."""
    with psycopg.connect(conninfo(), autocommit=True) as su:
        su.execute(sql)


def test_lifetime_tools_round_trip_and_isolation(agents: dict[str, Agent]) -> None:
    """Forgetting, retention and consolidation through the tools, and B sees none of A's."""
    a, b = agents["a"], agents["b"]

    async def scenario() -> None:
        async with session(a) as sa, session(b) as sb:
            # forget a session and a project, for good
            for i in range(2):
                await ok(sa, "remember", content=f"sesión efímera {i}", session_id="s-forget")
            await ok(sa, "remember", content="a project to drop", project="p-forget")
            assert (await ok(sb, "forget_session", session_id="s-forget"))["removed"] == 0
            assert (await ok(sa, "forget_session", session_id="s-forget"))["removed"] == 2
            assert (await ok(sa, "forget_project", name="p-forget"))["removed"] == 1
            assert (await err(sa, "forget_project", name="p-forget"))["sqlstate"] == "P0002"
            assert (await ok(sa, "search_memory", query="efímera project drop", mode="text"))[
                "episodes"
            ] == []

            # retention: a policy, the job, the log
            old = (await ok(sa, "remember", content="an ancient note",
                            occurred_at="2001-01-01T00:00:00Z"))["episode_id"]  # fmt: skip
            kept = (await ok(sa, "remember", content="an ancient keepsake", tags=["keep"],
                             occurred_at="2001-01-01T00:00:00Z"))["episode_id"]  # fmt: skip
            policy = await ok(
                sa, "set_retention_policy", max_age="365 days", protected_tags=["keep"]
            )
            assert policy["protected_tags"] == ["keep"] and policy["max_episodes"] is None
            as_operator("SELECT memory.apply_retention()")
            log = (await ok(sa, "list_retention_log"))["removed"]
            assert [(r["episode_id"], r["rule"]) for r in log] == [(old, "max_age")]
            assert (await ok(sa, "resolve_episode", episode_id=old))["episode_id"] is None
            assert (await ok(sa, "resolve_episode", episode_id=kept))["episode_id"] == kept
            assert (await ok(sb, "list_retention_log"))["removed"] == []
            assert (await ok(sb, "clear_retention_policy"))["cleared"] is False
            assert (await ok(sa, "clear_retention_policy"))["cleared"] is True

            # consolidation: two copies once both are embedded, merged by the job
            text = "The deploy window is Friday at 18:00, after the freeze."
            first = (await ok(sa, "remember", content=text, importance=0.4))["episode_id"]
            second = (await ok(sa, "remember", content=text + "!", importance=0.8))["episode_id"]
            await wait_embedded(sa, "when can we deploy?", first)
            await wait_embedded(sa, "when can we deploy?", second)
            # the job's batch for A alone, at run_consolidation's default thresholds
            as_operator(f"SELECT memory._consolidation_batch('{a.agent_id}', 200, 0.71, 0.70, '0')")
            merges = (await ok(sa, "list_consolidations"))["consolidations"]
            assert [(m["kept_id"], m["merged_id"]) for m in merges] == [(second, first)]
            assert merges[0]["merged_content"] == text
            assert (await ok(sa, "resolve_episode", episode_id=first))["episode_id"] == second
            assert (await ok(sb, "list_consolidations"))["consolidations"] == []
            assert (await ok(sb, "resolve_episode", episode_id=first))["episode_id"] is None
            cid = merges[0]["consolidation_id"]
            assert (await err(sb, "undo_consolidation", consolidation_id=cid))[
                "sqlstate"
            ] == "P0002"
            assert (await ok(sa, "undo_consolidation", consolidation_id=cid))["episode_id"] == first
            assert (await ok(sa, "resolve_episode", episode_id=first))["episode_id"] == first
            again = await err(sa, "undo_consolidation", consolidation_id=cid)
            assert again["sqlstate"] == "55000"

    anyio.run(scenario)


BAD_INPUT = [
    # (tool, arguments, SQLSTATE or None when the JSON schema refuses it)
    ("remember", {"content": ""}, "22023"),
    ("remember", {"content": "x", "importance": 1.5}, "22003"),
    ("remember", {"content": "x", "occurred_at": "not a time"}, "22007"),
    ("remember", {"content": "x", "tags": ["bad\x00tag"]}, "22021"),
    ("remember", {"content": 42}, None),
    ("search_memory", {"query": ""}, "22023"),
    ("search_memory", {"query": "x", "k": 0}, "22023"),
    ("search_memory", {"query": "x", "mode": "fuzzy"}, None),
    ("learn_fact", {"concept": "c", "statement": "s", "confidence": -1}, "22003"),
    ("learn_fact", {"concept": "c", "statement": "s", "supersedes": ["not-a-uuid"]}, "22P02"),
    ("invalidate_fact", {"fact_id": "00000000-0000-0000-0000-000000000000"}, "P0002"),
    ("search_facts", {"query": ""}, "22023"),
    ("set_working_memory", {"context_type": "bad type!", "content": {}}, "22023"),
    ("set_working_memory", {"context_type": "t", "content": {}, "ttl": "-5 minutes"}, "22023"),
    ("get_working_memory", {"context_type": 7}, None),
    ("clear_working_memory", {"context_type": ["x"]}, None),
    ("set_core_block", {"label": "persona", "value": "x" * 20, "char_limit": 10}, "22001"),
    ("set_core_block", {"label": "Bad Label!", "value": "x"}, "22023"),
    ("build_context", {"query": "x", "token_budget": 0}, "22023"),
    ("create_checkpoint", {"kind": "auto"}, "22023"),
    ("list_checkpoints", {"k": 0}, "22023"),
    ("forget_session", {"session_id": ""}, "22023"),
    ("forget_project", {"name": "no-such-project"}, "P0002"),
    ("set_retention_policy", {"max_episodes": 0}, "22023"),
    ("set_retention_policy", {"importance_floor": 2}, "22003"),
    ("set_retention_policy", {"max_age": "-1 day"}, "22023"),
    ("list_retention_log", {"k": 0}, "22023"),
    ("list_consolidations", {"k": 1001}, "22023"),
    ("undo_consolidation", {"consolidation_id": -1}, "P0002"),
    ("resolve_episode", {"episode_id": "not-a-uuid"}, "22P02"),
    ("share_memory", {"scope": "tag", "with_agent": "no-such-agent-x", "value": "t"}, "42704"),
    ("share_memory", {"scope": "project", "with_agent": "no-such-agent-x", "value": ""}, "22023"),
    ("share_memory", {"scope": "everything", "with_agent": "b", "value": "t"}, None),
    ("unshare_memory", {"scope": "tag", "with_agent": "", "value": "t"}, "22023"),
]


def test_bad_input_gives_sqlstate_and_hint_and_stores_nothing(agents: dict[str, Agent]) -> None:
    a = agents["a"]

    async def scenario() -> None:
        async with session(a) as s:
            before = counts(a)
            seen_tools = set()
            for tool, args, sqlstate in BAD_INPUT:
                e = await err(s, tool, **args)
                seen_tools.add(tool)
                assert e["sqlstate"] == sqlstate, (tool, args, e)
                if sqlstate is not None:
                    assert e["error"], (tool, e)
                    if tool in ("remember", "set_core_block", "create_checkpoint", "list_checkpoints") \
                            and sqlstate not in ("22P02", "22007"):  # fmt: skip
                        assert e.get("hint"), (tool, args, e)  # the function's HINT comes through
            # get_core_blocks takes no argument (extra ones are ignored); its resource
            # refuses a label the agent does not have
            assert seen_tools == TOOLS - NO_ARGUMENTS
            with pytest.raises(Exception, match="no core block"):
                await s.read_resource("memory://core-blocks/no-such-block")
            assert counts(a) == before
            # the server still works after all of that
            await ok(s, "get_working_memory")

    anyio.run(scenario)


def test_refuses_operator_and_superuser(agents: dict[str, Agent], tmp_path: Path) -> None:
    """The server never works as a role that could see other agents' memory."""
    secrets_dir = ROOT / ".secrets"
    pgpass = tmp_path / "pgpass"
    pgpass.write_text((secrets_dir / "pgpass").read_text())
    pgpass.chmod(0o600)

    operator = Agent("operator", "", pgpass)

    async def scenario(role: str) -> dict:
        async with session(operator, role) as s:
            return await err(s, "get_core_blocks")

    for role in ("memory_operator", "postgres"):
        e = anyio.run(scenario, role)
        assert e["sqlstate"] == "42501" and "refusing" in e["error"], e


def cluster(action: str) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), action], check=True,
                   capture_output=True, timeout=120)  # fmt: skip


def test_postgres_stopped_and_started_under_a_running_server(agents: dict[str, Agent]) -> None:
    a = agents["a"]

    async def scenario() -> None:
        async with session(a) as s:
            await ok(s, "set_working_memory", context_type="restart", content={"n": 1})
            try:
                cluster("stop")
                t0 = time.monotonic()
                e = await err(s, "remember", content="written while the database is down")
                assert time.monotonic() - t0 < 10, "the error must come quickly"
                assert e["sqlstate"] == "08006" and "hint" in e, e
                e = await err(s, "get_working_memory", context_type="restart")
                assert e["sqlstate"] == "08006"
            finally:
                cluster("start")
            # the same server process recovers on its own
            items = (await ok(s, "get_working_memory", context_type="restart"))["items"]
            assert [i["content"] for i in items] == [{"n": 1}]
            await ok(s, "clear_working_memory", context_type="restart")
        with psycopg.connect(conninfo(), autocommit=True) as su:
            down = su.execute(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s AND content LIKE 'written while%%'",
                (a.agent_id,),
            ).fetchone()[0]
        assert down == 0

    anyio.run(scenario)
