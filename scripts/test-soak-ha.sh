#!/usr/bin/env bash
# make test-soak-ha (part of make test): make test-ha's suite (every read function of the
# API on each standby), then the failover soak's ci profile (python/soak_ha:
# 16 writers with idempotency keys, readers on the standbys, one kill -9 of the leader's
# postmaster, one planned switchover, then the invariants) on an HA stack of its own:
# var/soak-ha on the *_SOAK_HA ports of config.env, so that neither the stack of
# `make up` nor the one of `make up-ha` is touched. The stack is created anew on every
# run and always stopped (trap); its data is removed after a passing run and kept in
# var/soak-ha for a post-mortem after a failing one.
# Usage: test-soak-ha.sh [python -m soak_ha options, e.g. --profile short]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export MEMORY_HA_DIR=$ROOT/var/soak-ha MEMORY_HA_PGPASS=$SECRETS/pgpass-soak-ha
export ETCD_PORT_HA=$ETCD_PORT_SOAK_HA PATRONI_PORT_HA=$PATRONI_PORT_SOAK_HA PGPORT_HA=$PGPORT_SOAK_HA \
  REDIS_PORT_HA=$REDIS_PORT_SOAK_HA DAEMON_METRICS_PORT_HA=$DAEMON_METRICS_PORT_SOAK_HA
HA=$MEMORY_HA_DIR

# Stops everything of var/soak-ha, also what a crashed run left behind: the services
# through scripts/ha.sh, then any PostgreSQL node still running without its Patroni.
stop_stack() {
  bash "$ROOT/scripts/ha.sh" down >/dev/null 2>&1 || true
  local d
  for d in "$HA"/pg[0-9]; do
    [ -f "$d/postmaster.pid" ] || continue
    as_service "$PG_BIN/pg_ctl" -D "$d" status >/dev/null 2>&1 \
      && as_service "$PG_BIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
}

[ -x "$VENV/bin/python" ] || die "run make up first (the soak needs .venv)"
started=$(date +%s)
if [ -d "$HA" ]; then
  stop_stack
  rm -rf "$HA"
fi
trap stop_stack EXIT
trap 'exit 130' INT TERM  # an interrupted run stops the stack too (through the EXIT trap)

log "soak-ha (ci): an HA stack of its own in var/soak-ha (etcd 127.0.0.1:$ETCD_PORT_HA, PostgreSQL $PGPORT_HA-$((PGPORT_HA + 2)))"
bash "$ROOT/scripts/ha.sh" up >/dev/null
up_done=$(date +%s)

cd "$ROOT"
status=0
# first make test-ha's suite on the fresh stack: every read function of the API on each standby
bash "$ROOT/scripts/test-ha.sh" || status=$?
tests_done=$(date +%s)
if [ "$status" = 0 ]; then
  PYTHONPATH=$ROOT/python "$VENV/bin/python" -m soak_ha --profile ci --report "$HA/soak-ha-ci.md" "$@" || status=$?
fi
soak_done=$(date +%s)
stop_stack
trap - EXIT
if [ "$status" = 0 ]; then
  rm -rf "$HA"
  result=passed
else
  result="FAILED (data, logs and the report kept in var/soak-ha)"
fi
log "soak-ha (ci): $result in $(($(date +%s) - started)) s (stack up $((up_done - started)) s, test-ha $((tests_done - up_done)) s, soak $((soak_done - tests_done)) s, stop $(($(date +%s) - soak_done)) s)"
exit "$status"
