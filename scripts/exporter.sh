#!/usr/bin/env bash
# prometheus-postgres-exporter (Debian's package) for the database gauges: only the
# custom queries of monitoring/postgres-exporter-queries.yaml, which read
# memory.health_metrics(), on 127.0.0.1:$EXPORTER_PORT_MEMORY. It logs in as
# memory_exporter (a member of memory_reader: health and counts, no memory content) with
# the password file .secrets/memory_exporter_password. Usage: exporter.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pidfile=$RUN_DIR/postgres-exporter.pid
logfile=$LOG_DIR/postgres-exporter.log

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  running && return 0
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  log "starting prometheus-postgres-exporter on 127.0.0.1:$EXPORTER_PORT_MEMORY"
  restrict_logs
  umask 027
  as_service env \
    DATA_SOURCE_URI="127.0.0.1:$PGPORT_MEMORY/$MEMORY_DB?sslmode=disable" \
    DATA_SOURCE_USER=memory_exporter DATA_SOURCE_PASS_FILE="$SECRETS/memory_exporter_password" \
    setsid sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" prometheus-postgres-exporter \
      --web.listen-address="127.0.0.1:$EXPORTER_PORT_MEMORY" \
      --extend.query-path="$ROOT/monitoring/postgres-exporter-queries.yaml" \
      --disable-default-metrics --disable-settings-metrics \
      --no-collector.database --no-collector.bgwriter \
      >>"$logfile" 2>&1 < /dev/null &
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$EXPORTER_PORT_MEMORY/metrics" && return 0
    sleep 0.1
  done
  tail -20 "$logfile" >&2
  die "prometheus-postgres-exporter did not start (see var/log/postgres-exporter.log)"
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  log "stopping prometheus-postgres-exporter"
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if running; then
    echo "postgres exporter: running on 127.0.0.1:$EXPORTER_PORT_MEMORY (pid $(cat "$pidfile")), log var/log/postgres-exporter.log"
  else echo "postgres exporter: stopped"; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) die "usage: exporter.sh start|stop|status" ;;
esac
