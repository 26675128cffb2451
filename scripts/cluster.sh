#!/usr/bin/env bash
# The project-local PostgreSQL 15 cluster: data in var/pgdata, listening on 127.0.0.1
# and a Unix socket in var/run only, scram authentication, pg_cron preloaded.
# Usage: cluster.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure_dirs() {
  mkdir -p "$VAR" "$RUN_DIR" "$LOG_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown "$SERVICE_USER": "$RUN_DIR" "$LOG_DIR"
    # The service account must be able to reach the repository's folders.
    d=$ROOT
    while [ "$d" != / ]; do
      runuser -u "$SERVICE_USER" -- test -x "$d" || chmod o+x "$d"
      d=$(dirname "$d")
    done
  fi
}

write_conf() {
  # Re-written on every start, so the repository's settings always apply.
  cat > "$PGDATA_DIR/agent-memory.conf" <<CONF
# Written by scripts/cluster.sh; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $PGPORT_MEMORY
unix_socket_directories = '$RUN_DIR'
unix_socket_permissions = 0770
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pg_cron'
cron.database_name = '$MEMORY_DB'
cron.use_background_workers = on
cron.log_statement = off
max_worker_processes = 24
max_connections = 200
shared_buffers = ${PG_SHARED_BUFFERS:-1GB}
maintenance_work_mem = ${PG_MAINTENANCE_WORK_MEM:-1GB}
work_mem = 32MB
effective_cache_size = ${PG_EFFECTIVE_CACHE_SIZE:-8GB}
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
# Agents' memories must not end up in the server log (docs/security.md): no statement
# text with errors or slow statements, no bind parameters, no DETAIL (a failing row's
# values), the log file readable by the service account and its group only.
log_min_error_statement = panic
log_min_duration_statement = -1
log_statement = 'none'
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
log_error_verbosity = terse
log_file_mode = 0640
CONF
  grep -q "^include_if_exists 'agent-memory.conf'" "$PGDATA_DIR/postgresql.conf" \
    || echo "include_if_exists 'agent-memory.conf'" >> "$PGDATA_DIR/postgresql.conf"
  cat > "$PGDATA_DIR/pg_hba.conf" <<HBA
# Written by scripts/cluster.sh. Socket and loopback only (the Postgres image: its
# container network), passwords by scram.
local   all   all                  scram-sha-256
host    all   all   ${MEMORY_PG_HBA_NET:-127.0.0.1/32}   scram-sha-256
HBA
  if [ "$(id -u)" = 0 ]; then chown "$SERVICE_USER": "$PGDATA_DIR"/agent-memory.conf "$PGDATA_DIR"/pg_hba.conf; fi
}

init() {
  [ -f "$PGDATA_DIR/PG_VERSION" ] && return 0
  log "initialising the cluster in $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  chmod 700 "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown "$SERVICE_USER": "$PGDATA_DIR"
  as_service "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=scram-sha-256 \
    --pwfile="$SECRETS/postgres_password" --encoding=UTF8 --locale=C.UTF-8 >/dev/null
}

running() { as_service "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

start() {
  ensure_dirs
  restrict_logs
  init
  write_conf
  if running; then
    # Settings that need no restart are picked up by a reload.
    as_service "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" reload >/dev/null
    return 0
  fi
  log "starting PostgreSQL on 127.0.0.1:$PGPORT_MEMORY"
  as_service "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_DIR/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$LOG_DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
}

stop() {
  if [ -f "$PGDATA_DIR/PG_VERSION" ] && running; then
    log "stopping PostgreSQL"
    as_service "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
  fi
}

status() {
  if [ -f "$PGDATA_DIR/PG_VERSION" ] && running; then
    echo "postgres: running on 127.0.0.1:$PGPORT_MEMORY (pid $(head -1 "$PGDATA_DIR/postmaster.pid"))"
  else
    echo "postgres: stopped"
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; restart) stop; start ;;
  *) die "usage: cluster.sh start|stop|restart|status" ;;
esac
