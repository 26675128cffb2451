"""Embedding daemon: model inference woken by LISTEN/NOTIFY, and Redis cache warming."""

__version__ = "0.1.0"
