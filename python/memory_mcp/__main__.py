"""memory-mcp: the agent-memory MCP server over stdio, as one agent.

    memory-mcp --dsn 'postgresql://agent_nexus@127.0.0.1:54329/agent_memory'

The password comes from the libpq password file (PGPASSFILE) or the URI; without
--dsn the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE) applies.
--role names the agent's login role (the URI's user otherwise). Environment:
MEMORY_MCP_DSN, MEMORY_MCP_ROLE, MEMORY_MCP_CONNECT_TIMEOUT (seconds, default 3),
MEMORY_MCP_STATEMENT_TIMEOUT_MS (default 30000).
"""

from __future__ import annotations

import argparse
import logging
import sys

from memory_mcp.db import Settings
from memory_mcp.server import build_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="memory-mcp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="libpq URI or key=value string of the agent's login")
    parser.add_argument("--role", help="the agent's login role")
    args = parser.parse_args(argv)
    # stdout carries the protocol: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    build_server(Settings.from_env(args.dsn, args.role)).run("stdio")


if __name__ == "__main__":
    main()
