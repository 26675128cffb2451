#!/usr/bin/env bash
# The embed daemon (python/embed_daemon), run as the service account with a pid file
# in var/run and a log in var/log. Usage: daemon.sh start|stop|status|restart
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pidfile=$RUN_DIR/embed-daemon.pid
logfile=$LOG_DIR/embed-daemon.log

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  running && return 0
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$VAR/cache"
  if [ "$(id -u)" = 0 ]; then chown "$SERVICE_USER": "$VAR/cache"; fi
  log "starting the embed daemon"
  restrict_logs
  umask 027   # the log (and anything else the daemon writes): 0640 at most
  # Configuration from the environment; the password from the secrets folder via pgpass.
  # The HA stack (scripts/ha.sh) passes every node (MEMORY_DAEMON_PGHOST/PGPORT lists) and
  # target_session_attrs=read-write: libpq connects to the leader, also after a failover.
  # One torch intra-op thread (MEMORY_TORCH_THREADS): on a loaded machine two made a query
  # embedding 10x slower for at most 15% more batch throughput (reports/bench-writes.md).
  as_service env \
    PGHOST="${MEMORY_DAEMON_PGHOST:-$RUN_DIR}" PGPORT="${MEMORY_DAEMON_PGPORT:-$PGPORT_MEMORY}" \
    PGTARGETSESSIONATTRS="${MEMORY_DAEMON_TARGET_SESSION_ATTRS:-any}" \
    PGDATABASE="$MEMORY_DB" PGUSER=memory_daemon PGPASSFILE="$PGPASS" \
    MEMORY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT_MEMORY/0" \
    MEMORY_REDIS_PASSWORD_FILE="$SECRETS/redis_password" \
    MEMORY_EMBED_SOCKET="$RUN_DIR/embed.sock" \
    MEMORY_METRICS_PORT="$DAEMON_METRICS_PORT" \
    MEMORY_WORKER_NAME="${MEMORY_WORKER_NAME:-$(hostname)-main}" \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf" \
    OMP_NUM_THREADS="${MEMORY_TORCH_THREADS:-1}" \
    setsid "$VENV/bin/python" -m embed_daemon --pidfile "$pidfile" >>"$logfile" 2>&1 < /dev/null &
  for _ in $(seq 100); do
    running && return 0
    sleep 0.1
  done
  tail -20 "$logfile" >&2
  die "the embed daemon did not start (see var/log/embed-daemon.log)"
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  log "stopping the embed daemon"
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if running; then echo "embed daemon: running (pid $(cat "$pidfile")), log var/log/embed-daemon.log"
  else echo "embed daemon: stopped"; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; restart) stop; start ;;
  *) die "usage: daemon.sh start|stop|status|restart" ;;
esac
