"""One agent's connection to the memory database, and SQL errors as MCP tool errors.

The server connects with the agent's own login role (a libpq URI, or the libpq
environment with PGPASSFILE, plus the role name) and never changes role: the database
binds the agent to the session's login role, so this process has exactly the rights of
that agent. A role that is a superuser, an operator (memory_admin) or the daemon
(memory_worker) is refused. Every tool is one call of a memory.* function in its own
transaction (autocommit), with named arguments so that parameters the SQL API adds
later keep their defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from mcp.server.mcpserver.exceptions import ToolError
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

# Roles that must not run an agent's MCP server: they would see or change more than
# one agent's memory.
FORBIDDEN_ROLES = ("memory_admin", "memory_worker", "memory_owner")


@dataclass(frozen=True)
class Settings:
    """How to reach the database: a libpq URI (or empty for the libpq environment)."""

    conninfo: str
    role: str | None
    connect_timeout: int
    statement_timeout_ms: int

    @classmethod
    def from_env(cls, dsn: str | None = None, role: str | None = None) -> Settings:
        return cls(
            conninfo=dsn if dsn is not None else os.environ.get("MEMORY_MCP_DSN", ""),
            role=role or os.environ.get("MEMORY_MCP_ROLE") or None,
            connect_timeout=int(os.environ.get("MEMORY_MCP_CONNECT_TIMEOUT", "3")),
            statement_timeout_ms=int(os.environ.get("MEMORY_MCP_STATEMENT_TIMEOUT_MS", "30000")),
        )


def _jsonable(value: Any) -> Any:
    """Rows as JSON values: uuids and times as strings, jsonb as it is."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def tool_error(exc: psycopg.Error) -> ToolError:
    """A database error as a tool error: message, SQLSTATE, detail and hint as JSON."""
    diag = exc.diag
    body: dict[str, Any] = {
        "error": diag.message_primary or str(exc).strip(),
        "sqlstate": diag.sqlstate or getattr(exc, "sqlstate", None),
    }
    if diag.message_detail:
        body["detail"] = diag.message_detail
    if diag.message_hint:
        body["hint"] = diag.message_hint
    if isinstance(exc, psycopg.OperationalError) and not body["sqlstate"]:
        body["sqlstate"] = "08006"
        body["hint"] = "PostgreSQL is unreachable; nothing was stored. Retry later."
    elif not body["sqlstate"]:
        # Refused by the driver before reaching the server; the SQL API's codes apply.
        nul = "NUL" in body["error"]
        body["sqlstate"] = "22021" if nul else "22000"
        body["hint"] = (
            "PostgreSQL text cannot hold a NUL character (\\x00): remove it"
            if nul
            else "check the argument's value and type"
        )
    return ToolError(json.dumps(body, ensure_ascii=False))


class Database:
    """A single connection, opened on first use and reopened after a failure."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> psycopg.AsyncConnection:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": self.settings.connect_timeout,
            "application_name": "memory-mcp",
            "options": f"-c statement_timeout={self.settings.statement_timeout_ms}",
            "row_factory": dict_row,
        }
        if self.settings.role:
            kwargs["user"] = self.settings.role
        conn = await psycopg.AsyncConnection.connect(self.settings.conninfo, **kwargs)
        cur = await conn.execute(
            "SELECT r.rolname, r.rolsuper, "
            "  (SELECT coalesce(array_agg(f), '{}') FROM unnest(%s::text[]) AS f "
            "   WHERE pg_has_role(session_user, f, 'MEMBER')) AS forbidden "
            "FROM pg_roles AS r WHERE r.rolname = session_user",
            (list(FORBIDDEN_ROLES),),
        )
        me = await cur.fetchone()
        if me is None or me["rolsuper"] or me["forbidden"]:
            await conn.close()
            raise ToolError(
                json.dumps(
                    {
                        "error": f"refusing to serve as role {me and me['rolname']!s}: "
                        "it is a superuser, an operator or the daemon",
                        "sqlstate": "42501",
                        "hint": "run the MCP server with the agent's own login role",
                    }
                )
            )
        return conn

    async def _ready(self) -> psycopg.AsyncConnection:
        """An open connection: the current one if it still answers, else a new one."""
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.execute("SELECT 1")
                return self._conn
            except psycopg.OperationalError:
                await self._discard()
        self._conn = await self._connect()
        return self._conn

    async def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        self._conn = None

    async def call(self, function: str, args: dict[str, Any], *, rows: str) -> Any:
        """SELECT memory.<function>(name => value, ...): one call, one transaction.

        args maps each argument to (value, SQL type); a value of None is left out, so
        the function's default applies. rows: 'one' (a scalar), 'all' (a table).
        """
        parts = []
        params: dict[str, Any] = {}
        for name, (value, sqltype) in args.items():
            if value is None:
                continue
            if sqltype == "jsonb":
                value = Jsonb(value)
            parts.append(
                sql.SQL("{} => {}::{}").format(
                    sql.Identifier(name), sql.Placeholder(name), sql.SQL(sqltype)
                )
            )
            params[name] = value
        call = sql.SQL("{}.{}({})").format(
            sql.Identifier("memory"), sql.Identifier(function), sql.SQL(", ").join(parts)
        )
        query = (
            sql.SQL("SELECT {} AS result").format(call)
            if rows == "one"
            else sql.SQL("SELECT * FROM {}").format(call)
        )
        async with self._lock:
            try:
                conn = await self._ready()
                cur = await conn.execute(query, params)
                result = await cur.fetchall()
            except psycopg.OperationalError as exc:
                await self._discard()
                raise tool_error(exc) from None
            except psycopg.Error as exc:
                raise tool_error(exc) from None
        if rows == "one":
            return _jsonable(result[0]["result"])
        return _jsonable(result)

    async def close(self) -> None:
        await self._discard()
