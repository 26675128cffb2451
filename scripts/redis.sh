#!/usr/bin/env bash
# The project-local Redis: a cache only, loopback, its own port, generated password.
# Usage: redis.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

conf=$VAR/redis/redis.conf
pidfile=$RUN_DIR/redis.pid

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  running && return 0
  mkdir -p "$VAR/redis" "$RUN_DIR" "$LOG_DIR"
  (
    umask 077
    cat > "$conf" <<CONF
# Written by scripts/redis.sh. A cache: Postgres is the truth, so no persistence.
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT_MEMORY
requirepass $(secret redis_password)
daemonize yes
pidfile $pidfile
logfile $LOG_DIR/redis.log
dir $VAR/redis
save ""
appendonly no
maxmemory 256mb
maxmemory-policy volatile-ttl
CONF
  )
  if [ "$(id -u)" = 0 ]; then chown -R "$SERVICE_USER": "$VAR/redis"; fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT_MEMORY"
  restrict_logs
  (umask 027 && as_service redis-server "$conf")   # its log: 0640 at most
  for _ in $(seq 50); do running && return 0; sleep 0.1; done
  die "Redis did not start (see var/log/redis.log)"
}

stop() {
  running || return 0
  log "stopping Redis"
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

status() {
  if running; then echo "redis: running on 127.0.0.1:$REDIS_PORT_MEMORY (pid $(cat "$pidfile"))"
  else echo "redis: stopped"; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) die "usage: redis.sh start|stop|status" ;;
esac
