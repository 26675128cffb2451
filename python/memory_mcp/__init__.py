"""MCP server for agent memory."""
