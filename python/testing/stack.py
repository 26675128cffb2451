"""The real stack that `make up` started, for the tests, the soak and the benchmarks.

Its configuration (config.env with the environment's overrides), connections, a scratch
database migrated with scripts/migrate.sh, agents as login roles, and real daemon
processes run as the service account, as scripts/daemon.sh runs them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = ROOT / "python"
SERVICE_USER = "postgres"
T = TypeVar("T")


def stack_config(root: Path = ROOT) -> dict[str, str]:
    """config.env as the scripts see it (with the environment's overrides)."""
    out = subprocess.run(
        ["bash", "-c", f"set -a && . '{root}/config.env' && env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


CONFIG = stack_config()
RUN_DIR = ROOT / "var" / "run"
LOG_DIR = ROOT / "var" / "log"
SECRETS = ROOT / ".secrets"
PYTHON = ROOT / ".venv" / "bin" / "python"


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


def conninfo(user: str = "postgres", dbname: str | None = None, host: str | None = None) -> str:
    """libpq connection string for a role of the stack (its password from .secrets/)."""
    return psycopg.conninfo.make_conninfo(
        host=host or str(RUN_DIR),
        port=CONFIG["PGPORT_MEMORY"],
        dbname=dbname or CONFIG["MEMORY_DB"],
        user=user,
        password=secret(f"{user}_password") if (SECRETS / f"{user}_password").exists() else None,
    )


def superuser(dbname: str | None = None) -> psycopg.Connection:
    return psycopg.connect(conninfo(dbname=dbname), autocommit=True)


@contextlib.contextmanager
def temporary_agents(*prefixes: str) -> Iterator[dict[str, psycopg.Connection]]:
    """Agents with login roles on the real database, one session each (autocommit,
    SET SESSION AUTHORIZATION), removed at the end with everything they stored: their
    embedding jobs first (the daemon's lock order), then the agents, then the roles."""
    with superuser() as admin:
        made: list[tuple[str, str]] = []
        conns: dict[str, psycopg.Connection] = {}
        try:
            for prefix in prefixes:
                role = f"tmp_{prefix.lower()}_{uuid.uuid4().hex[:8]}"
                name = f"{prefix}{uuid.uuid4().hex[:6]}"
                admin.execute(f'CREATE ROLE "{role}" LOGIN')
                made.append((name, role))
                admin.execute("SELECT memory.create_agent(%s, %s)", (name, role))
                conn = superuser()
                conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
                conns[prefix] = conn
            yield conns
        finally:
            for conn in conns.values():
                conn.close()
            for name, role in made:
                admin.execute(
                    "DELETE FROM memory.embedding_jobs WHERE agent_id = "
                    "(SELECT agent_id FROM memory.agents WHERE name = %s)",
                    (name,),
                )
                admin.execute("DELETE FROM memory.agents WHERE name = %s", (name,))
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def wait_for(what: str, check: Callable[[], T], timeout: float = 60.0, interval: float = 0.05) -> T:
    """Polls check() until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
        last = check()
    return last


def wait_sql(
    conn: psycopg.Connection,
    what: str,
    query: str,
    params: tuple[object, ...] = (),
    timeout: float = 60.0,
    interval: float = 0.05,
) -> object:
    """wait_for the one value a query returns on conn to be truthy."""
    return wait_for(what, lambda: conn.execute(query, params).fetchone()[0], timeout, interval)


def pg_env(dbname: str) -> dict[str, str]:
    return {
        "PGHOST": str(RUN_DIR),
        "PGPORT": CONFIG["PGPORT_MEMORY"],
        "PGDATABASE": dbname,
        "PGPASSFILE": str(SECRETS / "pgpass"),
    }


class ScratchDatabase:
    """A database of its own in the project's cluster, migrated like the real one."""

    def __init__(self, prefix: str = "scratch") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.roles: list[str] = []

    def create(self) -> ScratchDatabase:
        with superuser() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        env = dict(os.environ, **pg_env(self.name), PGUSER="postgres")
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "migrate.sh"), str(ROOT / "sql")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            self.drop()
            raise RuntimeError(f"migrating {self.name} failed:\n{result.stderr}")
        return self

    def connect(self) -> psycopg.Connection:
        return superuser(self.name)

    def make_agent(self, name: str) -> str:
        """A login role bound to a new agent; returns the role name."""
        role = f"{self.name}_{name.lower()}"
        with self.connect() as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            self.roles.append(role)
            conn.execute("SELECT memory.create_agent(%s, %s)", (name, role))
        return role

    @contextlib.contextmanager
    def as_agent(self, role: str) -> Iterator[psycopg.Connection]:
        """A connection whose session user is the agent's role (so RLS applies)."""
        with self.connect() as conn:
            conn.execute(f'SET SESSION AUTHORIZATION "{role}"')
            yield conn

    def drop(self) -> None:
        with superuser() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            for role in self.roles:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    """A real embed daemon (python -m embed_daemon) as the service account.

    With poison_marker, the daemon runs with a test encoder that refuses every batch
    holding a text containing the marker (python -m testing.daemon)."""

    def __init__(
        self, dbname: str, name: str, poison_marker: str | None = None, **env: str
    ) -> None:
        self.dbname = dbname
        self.name = name
        self.poison_marker = poison_marker
        self.socket_path = RUN_DIR / f"test-{name}.sock"
        self.metrics_port = free_port()
        self.log_path = LOG_DIR / f"test-daemon-{name}.log"
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            **pg_env(dbname),
            "PGUSER": "memory_daemon",
            "MEMORY_EMBED_SOCKET": str(self.socket_path),
            "MEMORY_METRICS_PORT": str(self.metrics_port),
            "MEMORY_WORKER_NAME": name,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": str(ROOT / "var" / "cache" / "hf"),
            # one intra-op thread, as scripts/daemon.sh (reports/bench-writes.md, "Torch threads")
            "OMP_NUM_THREADS": os.environ.get("MEMORY_TORCH_THREADS", "1"),
            # the testing package is not installed: it is imported from python/
            "PYTHONPATH": str(PYTHON_DIR),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        cmd = [str(PYTHON), "-m", "embed_daemon"]
        if self.poison_marker:
            cmd = [str(PYTHON), "-m", "testing.daemon", "--poison-marker", self.poison_marker]
        if os.getuid() == 0:
            pwd.getpwnam(SERVICE_USER)
            cmd = [
                "setpriv",
                f"--reuid={SERVICE_USER}",
                f"--regid={SERVICE_USER}",
                "--init-groups",
                "--",
                *cmd,
            ]
        # like every log of the stack: no read access for others (a daemon's log may
        # name agents' rows)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.fchmod(fd, 0o640)
        with os.fdopen(fd, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthz(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=2
            ) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return r.read().decode()

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all labels)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_ready(self, timeout: float = 180.0) -> DaemonProcess:
        """Until /healthz answers 200 and the database shows the daemon running."""

        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"daemon {self.name} exited:\n{self.log_tail()}")
            if self.healthz()[0] != 200:
                return False
            with superuser(self.dbname) as conn:
                row = conn.execute(
                    "SELECT status = 'running' AND pid = %s FROM memory.embedding_workers WHERE worker_name = %s",
                    (self.pid, self.name),
                ).fetchone()
            return bool(row and row[0])

        wait_for(f"daemon {self.name} to be ready", ready, timeout, interval=0.2)
        return self

    def wait_idle(self, timeout: float = 120.0) -> None:
        wait_for(
            f"daemon {self.name} to idle",
            lambda: '"detail": "idle"' in self.healthz()[1],
            timeout,
            0.1,
        )

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after timeout; returns the exit code."""
        if self.proc is None:
            return None
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
