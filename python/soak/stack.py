"""The soak's own stack (var/soak): connections, two daemons, and the faults it injects.

scripts/soak.sh has created the cluster, the database and Redis with the project's own
scripts; this module drives them as root or as the service account, like the scripts.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from testing.stack import ROOT, SECRETS, DaemonProcess, wait_for

log = logging.getLogger("soak")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVICE_USER = "postgres"


def _as_service(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *cmd] if os.getuid() == 0 else cmd


@dataclass
class Stack:
    var: Path
    pg_port: int
    redis_port: int
    dbname: str
    daemons: dict[str, DaemonProcess] = field(default_factory=dict)

    @classmethod
    def from_env(cls, var: Path) -> Stack:
        return cls(
            var=var,
            pg_port=int(os.environ["PGPORT_MEMORY"]),
            redis_port=int(os.environ["REDIS_PORT_MEMORY"]),
            dbname=os.environ.get("MEMORY_DB", "agent_memory"),
        )

    # ------------------------------------------------------------------ connections
    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    def conninfo(self, user: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.run_dir),
            port=self.pg_port,
            dbname=self.dbname,
            user=user,
            password=(SECRETS / f"{user}_password").read_text().strip(),
            connect_timeout=5,
            application_name="soak",
        )

    def superuser(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(), autocommit=True)

    def redis(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.redis_port,
            password=(SECRETS / "redis_password").read_text().strip(),
            decode_responses=True,
            socket_timeout=10,
        )

    def _script(self, name: str, action: str) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / name), action], check=True, timeout=120)

    # ------------------------------------------------------------------ daemons
    def start_daemon(self, name: str, poison_marker: str) -> DaemonProcess:
        d = DaemonProcess(
            self.dbname,
            name,
            poison_marker,
            PGHOST=str(self.run_dir),
            PGPORT=str(self.pg_port),
            PGPASSFILE=str(self.var / "pgpass"),
            MEMORY_EMBED_SOCKET=str(self.run_dir / f"{name}.sock"),
            MEMORY_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            MEMORY_REDIS_PASSWORD_FILE=str(SECRETS / "redis_password"),
            MEMORY_POLL_SECONDS="2",
            MEMORY_RECONNECT_MAX_SECONDS="2",
            # one inference thread each: two daemons share the machine's cores
            OMP_NUM_THREADS="1",
        )
        d.socket_path = self.run_dir / f"{name}.sock"
        d.log_path = self.log_dir / f"daemon-{name}.log"
        d.start()
        self.daemons[name] = d
        return d

    def wait_daemon(self, d: DaemonProcess, timeout: float = 240.0) -> None:
        def ready() -> bool:
            if not d.alive():
                raise RuntimeError(f"daemon {d.name} exited:\n{d.log_tail()}")
            return d.healthz()[0] == 200

        wait_for(f"daemon {d.name} to be ready", ready, timeout, interval=0.25)

    def restart_daemon(self, name: str) -> DaemonProcess:
        old = self.daemons[name]
        assert old.poison_marker is not None
        return self.start_daemon(name, old.poison_marker)

    def stop_daemons(self) -> dict[str, int | None]:
        return {name: d.stop() for name, d in self.daemons.items()}

    # ------------------------------------------------------------------ faults
    def kill_daemon(self, name: str) -> None:
        self.daemons[name].kill()

    def restart_postgres(self, mode: str) -> None:
        """mode 'fast': a clean restart; 'immediate': a crash (no checkpoint, WAL replay)."""
        pgdata = str(self.var / "pgdata")
        subprocess.run(
            _as_service(
                [str(PG_BIN / "pg_ctl"), "-D", pgdata, "-m", mode, "-w", "-t", "60", "stop"]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        self._script("cluster.sh", "start")

    def stop_and_flush_redis(self) -> None:
        r = self.redis()
        r.flushall()
        r.close()
        self._script("redis.sh", "stop")

    def start_redis(self) -> None:
        self._script("redis.sh", "start")

    def wait_postgres(self, timeout: float = 60.0) -> None:
        def up() -> bool:
            try:
                with self.superuser() as c:
                    c.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                return False

        wait_for("postgres to accept connections", up, timeout, interval=0.25)

    def quiet_seconds(self, seconds: float) -> None:
        time.sleep(seconds)
