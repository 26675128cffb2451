"""Answers embed_query() from inside the database on a local Unix socket.

Protocol: one JSON line per connection, {"op": "embed", "model": name, "text": ...},
answered by one JSON line, {"ok": true, "vector": "[...]"} (pgvector's text form) or
{"ok": false, "error": "..."}. Errors never echo the text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
import time
from pathlib import Path

from embed_daemon.metrics import Metrics
from embed_daemon.model import ModelPool

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1 << 20  # 100,000 characters of query fit comfortably
REQUEST_TIMEOUT = 10.0


class SocketInUse(RuntimeError):
    """Another process answers on the configured socket."""


class QueryServer:
    """A threaded Unix-socket server in a background thread."""

    def __init__(self, path: Path, pool: ModelPool, metrics: Metrics) -> None:
        self.path = path
        self.pool = pool
        self.metrics = metrics
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    def _answer(self, raw: bytes) -> dict[str, object]:
        try:
            req = json.loads(raw.decode("utf-8"))
            if not isinstance(req, dict) or req.get("op") != "embed":
                return {"ok": False, "error": "unknown request"}
            text, model = req.get("text"), req.get("model")
            if not isinstance(text, str) or not text.strip() or not isinstance(model, str):
                return {"ok": False, "error": "a request needs a model name and a non-empty text"}
            if model not in self.pool.servable():
                return {"ok": False, "error": f"model {model} is not served by this daemon"}
            vec = self.pool.encoder(model).encode([text], query=True)[0]
            return {"ok": True, "vector": "[" + ",".join(repr(float(x)) for x in vec) + "]"}
        except (ValueError, UnicodeDecodeError):
            return {"ok": False, "error": "malformed request"}
        except Exception as exc:  # answer the database rather than hang up
            log.exception("embed_query request failed")
            return {"ok": False, "error": type(exc).__name__}

    def start(self) -> None:
        if self.path.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1.0)
                try:
                    probe.connect(str(self.path))
                except OSError:
                    self.path.unlink()  # left by a process that died
                else:
                    raise SocketInUse(f"another process answers on {self.path}")
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = REQUEST_TIMEOUT

            def handle(self) -> None:
                started = time.perf_counter()
                try:
                    raw = self.rfile.readline(MAX_REQUEST_BYTES + 1)
                except OSError:
                    return
                if len(raw) > MAX_REQUEST_BYTES:
                    answer: dict[str, object] = {"ok": False, "error": "request too large"}
                else:
                    answer = outer._answer(raw)
                outer.metrics.queries.labels("ok" if answer["ok"] else "error").inc()
                outer.metrics.query_latency.observe(time.perf_counter() - started)
                with contextlib.suppress(OSError):
                    self.wfile.write((json.dumps(answer) + "\n").encode("utf-8"))

        self.path.parent.mkdir(parents=True, exist_ok=True)
        old_umask = os.umask(0o117)  # the socket: owner and group only
        try:
            server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        finally:
            os.umask(old_umask)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="query-server", daemon=True).start()
        log.info("answering embed_query() on %s", self.path)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
