#!/usr/bin/env bash
# Prints how to connect to the running stack.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cat <<INFO

agent memory is up.
  psql as the operator:  make psql
  connection URI:        make dsn
  socket:                $RUN_DIR (port $PGPORT_MEMORY), or 127.0.0.1:$PGPORT_MEMORY
  database:              $MEMORY_DB
  secrets:               .secrets/ (generated here, git-ignored)
  redis (cache only):    127.0.0.1:$REDIS_PORT_MEMORY, password in .secrets/redis_password
  metrics (loopback):    daemon http://127.0.0.1:$DAEMON_METRICS_PORT/metrics, database gauges http://127.0.0.1:$EXPORTER_PORT_MEMORY/metrics
  what runs:             make status
INFO
