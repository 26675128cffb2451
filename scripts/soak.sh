#!/usr/bin/env bash
# make soak / make test-soak: the soak campaign on a stack of its own (var/soak: a fresh
# PostgreSQL cluster, Redis and two embed daemons on loopback ports PGPORT_SOAK and
# REDIS_PORT_SOAK), so the faults it injects never touch the stack of `make up`.
# Usage: soak.sh [--profile short|long] [python -m soak options...]
# The cluster is created anew on every run and removed after a passing run; after a
# failing one var/soak keeps the data and logs for a post-mortem.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SOAK_DIR=$ROOT/var/soak
export MEMORY_VAR_DIR=$SOAK_DIR MEMORY_PGPASS=$SOAK_DIR/pgpass
export PGPORT_MEMORY=$PGPORT_SOAK REDIS_PORT_MEMORY=$REDIS_PORT_SOAK
# a small cluster: it holds one run's data, beside the main one
export PG_SHARED_BUFFERS=256MB

stop_stack() {
  bash "$ROOT/scripts/redis.sh" stop || true
  bash "$ROOT/scripts/cluster.sh" stop || true
}

[ -x "$VENV/bin/python" ] || die "run make up first (the soak needs .venv)"
[ -s "$SECRETS/postgres_password" ] || die "run make up first (the soak uses the secrets of .secrets/)"

# A previous run's stack (an interrupted run) is stopped and its data dropped.
if [ -d "$SOAK_DIR" ]; then
  stop_stack
  as_service "$PG_BIN/pg_ctl" -D "$SOAK_DIR/pgdata" status >/dev/null 2>&1 \
    && as_service "$PG_BIN/pg_ctl" -D "$SOAK_DIR/pgdata" -m immediate stop >/dev/null
  rm -rf "$SOAK_DIR"
fi
mkdir -p "$SOAK_DIR"
[ "$(id -u)" = 0 ] && chown "$SERVICE_USER": "$SOAK_DIR"
trap stop_stack EXIT

log "soak: a fresh stack in var/soak (postgres 127.0.0.1:$PGPORT_SOAK, redis 127.0.0.1:$REDIS_PORT_SOAK)"
bash "$ROOT/scripts/secrets.sh"
bash "$ROOT/scripts/cluster.sh" start
bash "$ROOT/scripts/db.sh" >/dev/null
bash "$ROOT/scripts/redis.sh" start

cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$ROOT/var/cache/hf"
status=0
"$VENV/bin/python" -m soak --var "$SOAK_DIR" "$@" || status=$?
stop_stack
trap - EXIT
if [ "$status" = 0 ]; then
  rm -rf "$SOAK_DIR/pgdata" "$SOAK_DIR/redis"
else
  log "soak: FAILED; data and logs kept in var/soak"
fi
exit "$status"
