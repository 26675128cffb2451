"""The HA stack that scripts/ha.sh runs (var/ha): its nodes, its leader, its faults.

Nodes are addressed by Patroni member name (pg1, pg2, pg3). The leader is whichever
node Patroni's REST API names; clients that should not care use the multi-host URIs
(`make dsn-ha`). Faults go through the engines' own tools: kill -9 of a postmaster,
patronictl switchover and reinit, stopping etcd.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
from testing.stack import ROOT, SECRETS, stack_config

log = logging.getLogger("soak_ha")
NODES = ("pg1", "pg2", "pg3")


def _as_service(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd


@dataclass
class HaStack:
    var: Path
    pg_port: int
    rest_port: int
    etcd_port: int
    redis_port: int
    metrics_port: int
    dbname: str

    @classmethod
    def running(cls) -> HaStack:
        """The stack of `make up-ha`, with the ports of config.env and the environment."""
        cfg = stack_config()
        stack = cls(
            var=Path(os.environ.get("MEMORY_HA_DIR", ROOT / "var" / "ha")),
            pg_port=int(cfg["PGPORT_HA"]),
            rest_port=int(cfg["PATRONI_PORT_HA"]),
            etcd_port=int(cfg["ETCD_PORT_HA"]),
            redis_port=int(cfg["REDIS_PORT_HA"]),
            metrics_port=int(cfg["DAEMON_METRICS_PORT_HA"]),
            dbname=cfg.get("MEMORY_DB", "agent_memory"),
        )
        stack.leader(timeout=60)
        return stack

    # ------------------------------------------------------------------ addresses
    def index(self, node: str) -> int:
        return NODES.index(node)

    def port(self, node: str) -> int:
        return self.pg_port + self.index(node)

    def rest(self, node: str) -> str:
        return f"http://127.0.0.1:{self.rest_port + self.index(node)}"

    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(n)}" for n in NODES)

    def uri(self, user: str, attrs: str, **extra: str | int) -> str:
        """A multi-host libpq URI (password from .secrets) with target_session_attrs."""
        params = {"target_session_attrs": attrs, **{k: str(v) for k, v in extra.items()}}
        query = "&".join(f"{k}={v}" for k, v in params.items())
        password = (SECRETS / f"{user}_password").read_text().strip() if user else ""
        return f"postgresql://{user}:{password}@{self.hosts()}/{self.dbname}?{query}"

    def conninfo(self, node: str, user: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.var / "run"),
            port=self.port(node),
            dbname=self.dbname,
            user=user,
            password=(SECRETS / f"{user}_password").read_text().strip(),
            connect_timeout=3,
        )

    def connect(self, node: str, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(node), autocommit=autocommit)

    def connect_leader(self) -> psycopg.Connection:
        return self.connect(self.leader())

    # ------------------------------------------------------------------ Patroni's view
    def cluster(self) -> dict:
        for node in NODES:
            try:
                with urllib.request.urlopen(self.rest(node) + "/cluster", timeout=2) as r:
                    return json.load(r)
            except OSError:
                continue
        raise RuntimeError("no Patroni REST API answers")

    def leader(self, timeout: float = 0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for node in NODES:
                try:
                    with urllib.request.urlopen(self.rest(node) + "/leader", timeout=2):
                        return node
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                raise RuntimeError("the HA stack has no leader (make up-ha)")
            time.sleep(0.2)

    def standbys(self) -> list[str]:
        members = self.cluster()["members"]
        return sorted(
            m["name"]
            for m in members
            if m["role"] in ("replica", "sync_standby") and m["state"] in ("running", "streaming")
        )

    def patronictl(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(
            _as_service(["patronictl", "-c", str(self.var / "patroni-1.yml"), *args]),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"patronictl {' '.join(args)}: {out.stderr.strip()[-400:]}")
        return out.stdout

    def wait_healthy(self, timeout: float = 180) -> None:
        """A leader whose pg_stat_replication shows two standbys streaming, one of them
        synchronous, and Patroni agreeing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                members = self.cluster()["members"]
                up = [m for m in members if m["state"] in ("running", "streaming")]
                if len(up) == 3 and any(m["role"] == "sync_standby" for m in up):
                    with self.connect_leader() as conn:
                        row = conn.execute(
                            "SELECT count(*) FILTER (WHERE state = 'streaming'), "
                            "count(*) FILTER (WHERE sync_state = 'sync') FROM pg_stat_replication"
                        ).fetchone()
                    if tuple(row) == (2, 1):
                        return
            except (RuntimeError, KeyError, ValueError, psycopg.Error):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the cluster did not become healthy: {self.patronictl('list')}")

    def wait_sync_standby(self, timeout: float = 120) -> None:
        """The leader has a synchronous standby again (pg_stat_replication). Until then
        Patroni's synchronous_mode (not strict) lets a new leader commit alone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self.connect_leader() as conn:
                    if conn.execute(
                        "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
                    ).fetchone()[0]:
                        return
            except (RuntimeError, psycopg.Error):
                pass
            time.sleep(0.1)
        raise RuntimeError("the leader got no synchronous standby")

    # ------------------------------------------------------------------ data
    def wait_replayed(self, timeout: float = 60) -> None:
        """Every standby has replayed what the leader has written so far."""
        with self.connect_leader() as conn:
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        for node in self.standbys():
            with self.connect(node) as conn:
                while not conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)
                ).fetchone()[0]:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{node} did not replay up to {lsn}")
                    time.sleep(0.05)

    def wait_embedded(self, agent: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        with self.connect_leader() as conn:
            while conn.execute(
                "SELECT count(*) FROM memory.embedding_jobs AS j JOIN memory.agents AS a USING (agent_id) "
                "WHERE a.name = %s AND j.state <> 'done'",
                (agent,),
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the embeddings of {agent} were not done in {timeout} s")
                time.sleep(0.2)

    # ------------------------------------------------------------------ faults
    def postmaster_pid(self, node: str) -> int:
        return int((self.var / node / "postmaster.pid").read_text().split()[0])

    def kill_postmaster(self, node: str) -> None:
        """kill -9 of the node's postmaster (its backends die with it)."""
        pid = self.postmaster_pid(node)
        log.info("fault: kill -9 of %s's postmaster (pid %s)", node, pid)
        os.kill(pid, signal.SIGKILL)

    def switchover(self, candidate: str) -> None:
        """A planned switchover as `make switchover-ha` does it: a CHECKPOINT on the
        leader first, so that the immediate checkpoint Patroni runs before its fast
        shutdown (while writes still commit) has little left to write, then patronictl."""
        leader = self.leader()
        t = time.monotonic()
        with self.connect(leader) as conn:
            conn.execute("CHECKPOINT")
        log.info(
            "fault: planned switchover %s -> %s (CHECKPOINT first: %.2f s)",
            leader,
            candidate,
            time.monotonic() - t,
        )
        self.patronictl(
            "switchover", "--leader", leader, "--candidate", candidate, "--force", "agent-memory-ha"
        )

    def reinit(self, node: str) -> None:
        log.info("fault: %s rebuilt from scratch (patronictl reinit)", node)
        self.patronictl("reinit", "--force", "--wait", "agent-memory-ha", node, timeout=900)

    def etcd(self, action: str) -> None:
        """Stop (SIGSTOP: etcd freezes, as a partition would) or continue etcd."""
        pid = int((self.var / "run" / "etcd.pid").read_text())
        log.info("fault: etcd %s", action)
        os.kill(pid, signal.SIGSTOP if action == "stop" else signal.SIGCONT)
        if action == "continue":
            # run as root, scripts/ha.sh starts etcd through runuser, which stops itself
            # when its child stops and waits for a SIGCONT of its own: without one it
            # stays stopped for good and cannot reap etcd when the stack goes down
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if Path(f"/proc/{ppid}/comm").read_text().strip() == "runuser":
                    os.kill(ppid, signal.SIGCONT)
