"""Embedding daemon: drains the embedding queue (woken by LISTEN/NOTIFY) and answers
embed_query() for the database on a local socket. Modules: config (and connections),
model (loading and encoding), worker (the queue loop and its SQL calls), query_server,
cache (the Redis warmer), metrics. Test helpers live outside, in python/testing."""

__version__ = "0.1.0"
