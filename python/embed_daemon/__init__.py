"""Embedding daemon: drains the embedding queue (woken by LISTEN/NOTIFY) and answers
embed_query() for the database on a local socket. Modules: config, db (the SQL API
calls), model (loading and encoding), worker (the loop), query_server, metrics.
Test helpers live outside the daemon, in python/testing."""

__version__ = "0.1.0"
