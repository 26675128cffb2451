#!/usr/bin/env bash
# The opt-in high-availability stack (issue 18), all in var/ha on loopback ports of its
# own (config.env: ETCD_PORT_HA, PATRONI_PORT_HA, PGPORT_HA, REDIS_PORT_HA,
# DAEMON_METRICS_PORT_HA):
#   etcd 3.4 (Debian's etcd-server, one member) holds the leader key;
#   Patroni (Debian's patroni) runs three PostgreSQL 15 nodes, synchronous_mode on;
#   the schema is migrated on the leader (scripts/db.sh), and replicates;
#   Redis and the embed daemon, which reaches the leader through a libpq multi-host URI
#   with target_session_attrs=read-write (so it follows a failover by reconnecting).
# Usage: ha.sh up|down|status|dsn|leader|members|switchover [member]|patronictl ARGS|psql [node]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HA=${MEMORY_HA_DIR:-$ROOT/var/ha}
HA_RUN=$HA/run
HA_LOG=$HA/log
SCOPE=agent-memory-ha
NODES=(1 2 3)
# the stack's own pgpass (its ports): make test-soak-ha runs a second stack beside this one
PGPASS_HA=${MEMORY_HA_PGPASS:-$SECRETS/pgpass-ha}
node_pgport() { echo $((PGPORT_HA + $1 - 1)); }
node_rest() { echo $((PATRONI_PORT_HA + $1 - 1)); }
pg_ports() { local IFS=,; local p=(); for n in "${NODES[@]}"; do p+=("$(node_pgport "$n")"); done; echo "${p[*]}"; }
pg_hosts() { local IFS=,; local h=(); for _ in "${NODES[@]}"; do h+=(127.0.0.1); done; echo "${h[*]}"; }

secrets() {
  bash "$ROOT/scripts/secrets.sh"
  [ -s "$SECRETS/replicator_password" ] \
    || (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$SECRETS/replicator_password")
  (
    umask 077
    : > "$PGPASS_HA.new"
    for role in postgres memory_operator memory_daemon replicator; do
      for n in "${NODES[@]}"; do
        for host in "$HA_RUN" 127.0.0.1 localhost; do
          printf '%s:%s:*:%s:%s\n' "$host" "$(node_pgport "$n")" "$role" "$(secret "${role}_password")" >> "$PGPASS_HA.new"
        done
      done
    done
    mv "$PGPASS_HA.new" "$PGPASS_HA"
  )
  if [ "$(id -u)" = 0 ]; then chown -R "$SERVICE_USER": "$SECRETS"; fi
}

dirs() {
  mkdir -p "$HA" "$HA_RUN" "$HA_LOG" "$HA/etcd"
  chmod 700 "$HA/etcd"
  if [ "$(id -u)" = 0 ]; then
    chown "$SERVICE_USER": "$HA" "$HA_RUN" "$HA_LOG" "$HA/etcd"
    local d=$ROOT
    while [ "$d" != / ]; do
      runuser -u "$SERVICE_USER" -- test -x "$d" || chmod o+x "$d"
      d=$(dirname "$d")
    done
  fi
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# The pid of the service itself (not of runuser in front of it): faults signal it.
real_pid() { pgrep -o -u "$SERVICE_USER" -f -- "$1"; }

# ------------------------------------------------------------------ etcd
etcd_url() { echo "http://127.0.0.1:$ETCD_PORT_HA"; }
etcd_start() {
  running "$HA_RUN/etcd.pid" && return 0
  log "starting etcd on 127.0.0.1:$ETCD_PORT_HA"
  local peer=http://127.0.0.1:$((ETCD_PORT_HA + 1))
  as_service env ETCD_UNSUPPORTED_ARCH= setsid etcd --name ha --data-dir "$HA/etcd" \
    --listen-client-urls "$(etcd_url)" --advertise-client-urls "$(etcd_url)" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "ha=$peer" --initial-cluster-state new --initial-cluster-token "$SCOPE" \
    --listen-metrics-urls "" >>"$HA_LOG/etcd.log" 2>&1 < /dev/null &
  for _ in $(seq 100); do
    if ETCDCTL_API=3 etcdctl --endpoints "$(etcd_url)" endpoint health >/dev/null 2>&1; then
      real_pid "--data-dir $HA/etcd" > "$HA_RUN/etcd.pid"
      return 0
    fi
    sleep 0.1
  done
  tail -20 "$HA_LOG/etcd.log" >&2
  die "etcd did not start"
}
etcd_stop() {
  running "$HA_RUN/etcd.pid" || return 0
  log "stopping etcd"
  stop_pid "$HA_RUN/etcd.pid"
}

stop_pid() {  # TERM, wait up to 30 s, then KILL
  local pid
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

# ------------------------------------------------------------------ Patroni
patroni_conf() {  # node number
  local n=$1 port rest
  port=$(node_pgport "$n")
  rest=$(node_rest "$n")
  (
    umask 077
    cat > "$HA/patroni-$n.yml" <<YML
# Written by scripts/ha.sh; edits here are overwritten.
scope: $SCOPE
namespace: /agent-memory/
name: pg$n
log:
  dir: $HA_LOG/patroni-$n
  file_num: 2
  file_size: 10000000
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT_HA
bootstrap:
  dcs:
    # leader key ttl 10 s, loops every 2 s: an unplanned failover takes about 10 s
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # a write acknowledged by COMMIT is on two nodes (the leader and the sync standby)
    synchronous_mode: true
    # a crashed leader is not restarted in place: the sync standby takes over at once
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        hot_standby_feedback: 'on'
        max_connections: 200
        max_worker_processes: 24
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 512MB
        shared_preload_libraries: pg_cron
        cron.database_name: $MEMORY_DB
        cron.use_background_workers: 'on'
        cron.log_statement: 'off'
        password_encryption: scram-sha-256
        timezone: UTC
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth: scram-sha-256
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $HA/pg$n
  bin_dir: $PG_BIN
  pgpass: $HA_RUN/pgpass-patroni-$n
  authentication:
    superuser:
      username: postgres
      password: $(secret postgres_password)
    replication:
      username: replicator
      password: $(secret replicator_password)
    rewind:
      username: postgres
      password: $(secret postgres_password)
  parameters:
    unix_socket_directories: $HA_RUN
    unix_socket_permissions: '0770'
    shared_buffers: ${PG_SHARED_BUFFERS_HA:-128MB}
    work_mem: 16MB
    maintenance_work_mem: 256MB
    log_timezone: UTC
    log_line_prefix: '%m [%p] %q%u@%d '
    log_min_duration_statement: 2000
    logging_collector: 'on'
    log_directory: $HA_LOG/pg$n
    log_filename: postgresql.log
    log_file_mode: '0640'
  # a replica built or rebuilt (reinit) asks the leader for an immediate checkpoint, not
  # a spread one (up to checkpoint_timeout x 0.9 of waiting before the copy starts)
  basebackup:
    - checkpoint: fast
  pg_hba:
    - local all all scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
    - local replication replicator scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
YML
  )
  mkdir -p "$HA_LOG/patroni-$n" "$HA_LOG/pg$n"
  if [ "$(id -u)" = 0 ]; then chown "$SERVICE_USER": "$HA/patroni-$n.yml" "$HA_LOG/patroni-$n" "$HA_LOG/pg$n"; fi
}

patroni_start() {
  local n=$1
  running "$HA_RUN/patroni-$n.pid" && return 0
  patroni_conf "$n"
  log "starting Patroni node pg$n (PostgreSQL on 127.0.0.1:$(node_pgport "$n"), REST on 127.0.0.1:$(node_rest "$n"))"
  as_service setsid patroni "$HA/patroni-$n.yml" >>"$HA_LOG/patroni-$n.out" 2>&1 < /dev/null &
  for _ in $(seq 50); do
    real_pid "patroni $HA/patroni-$n.yml" > "$HA_RUN/patroni-$n.pid" && return 0
    sleep 0.1
  done
  die "Patroni node pg$n did not start (see $HA_LOG/patroni-$n.out)"
}
patroni_stop() {
  local n=$1
  running "$HA_RUN/patroni-$n.pid" || return 0
  log "stopping Patroni node pg$n (and its PostgreSQL)"
  stop_pid "$HA_RUN/patroni-$n.pid"
}

patronictl_() { as_service patronictl -c "$HA/patroni-1.yml" "$@"; }

# The leader's member name and port from Patroni's REST API (GET /leader answers 200
# on the leader only).
leader() {
  for n in "${NODES[@]}"; do
    if curl -fsS -o /dev/null "http://127.0.0.1:$(node_rest "$n")/leader" 2>/dev/null; then
      echo "pg$n $(node_pgport "$n")"
      return 0
    fi
  done
  return 1
}

wait_cluster() {  # a leader and two streaming replicas, one of them synchronous
  for _ in $(seq 600); do
    if leader >/dev/null && [ "$(curl -fsS "http://127.0.0.1:$(node_rest 1)/cluster" 2>/dev/null \
        | /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin)["members"]; print(sum(x["state"] in ("running","streaming") for x in m), any(x["role"]=="sync_standby" for x in m))' \
        2>/dev/null)" = "3 True" ]; then
      return 0
    fi
    sleep 0.5
  done
  patronictl_ list >&2 || true
  die "the cluster did not come up with a leader and a synchronous standby (see $HA_LOG)"
}

# Runs a stack script against the leader through its socket: same database, roles,
# migrations, functions and pg_cron jobs as the single-node stack.
on_leader() {
  local port
  port=$(leader | cut -d' ' -f2) || die "no leader"
  MEMORY_VAR_DIR=$HA PGPORT_MEMORY=$port MEMORY_PGPASS=$PGPASS_HA "$@"
}

daemon_env() {
  export MEMORY_VAR_DIR=$HA REDIS_PORT_MEMORY=$REDIS_PORT_HA DAEMON_METRICS_PORT=$DAEMON_METRICS_PORT_HA \
    MEMORY_PGPASS=$PGPASS_HA MEMORY_WORKER_NAME="${MEMORY_WORKER_NAME:-$(hostname)-ha}" \
    MEMORY_DAEMON_PGHOST="$(pg_hosts)" MEMORY_DAEMON_PGPORT="$(pg_ports)" \
    MEMORY_DAEMON_TARGET_SESSION_ATTRS=read-write
}

up() {
  bash "$ROOT/scripts/install-system.sh"  # etcd-server, patroni and the rest, when missing
  bash "$ROOT/scripts/install-python.sh"
  secrets
  dirs
  etcd_start
  for n in "${NODES[@]}"; do patroni_start "$n"; done
  wait_cluster
  on_leader bash "$ROOT/scripts/db.sh"
  # the stack's own roles carry passwords set on the leader; wait until a replica has them
  daemon_env
  bash "$ROOT/scripts/redis.sh" start
  bash "$ROOT/scripts/daemon.sh" start
  status
  log "connection URIs (with the operator's password): make dsn-ha"
}

down() {
  daemon_env
  bash "$ROOT/scripts/daemon.sh" stop
  bash "$ROOT/scripts/redis.sh" stop
  # replicas first, the leader last: no failover on the way down
  local lead
  lead=$(leader | cut -d' ' -f1 | tr -d pg) || lead=
  for n in "${NODES[@]}"; do [ "$n" = "$lead" ] || patroni_stop "$n"; done
  [ -n "$lead" ] && patroni_stop "$lead"
  etcd_stop
}

status() {
  if running "$HA_RUN/etcd.pid"; then echo "etcd: running on 127.0.0.1:$ETCD_PORT_HA (pid $(cat "$HA_RUN/etcd.pid"))"
  else echo "etcd: stopped"; fi
  for n in "${NODES[@]}"; do
    if running "$HA_RUN/patroni-$n.pid"; then echo "patroni pg$n: running (pid $(cat "$HA_RUN/patroni-$n.pid"))"
    else echo "patroni pg$n: stopped"; fi
  done
  if running "$HA_RUN/etcd.pid"; then patronictl_ list 2>/dev/null || true; fi
  daemon_env
  bash "$ROOT/scripts/redis.sh" status
  bash "$ROOT/scripts/daemon.sh" status
}

dsn() {
  local hosts
  hosts=$(for n in "${NODES[@]}"; do printf '127.0.0.1:%s,' "$(node_pgport "$n")"; done)
  hosts=${hosts%,}
  printf 'writers (read-write, the leader):  postgresql://memory_operator:%s@%s/%s?target_session_attrs=read-write\n' \
    "$(secret memory_operator_password)" "$hosts" "$MEMORY_DB"
  printf 'searches (a standby if one is up): postgresql://memory_operator:%s@%s/%s?target_session_attrs=prefer-standby\n' \
    "$(secret memory_operator_password)" "$hosts" "$MEMORY_DB"
}

# A planned switchover to the synchronous standby (or the member named): a CHECKPOINT on
# the leader first, then `patronictl switchover`. Patroni runs an immediate checkpoint of
# its own before the fast shutdown, while writes still commit; after this one it has
# less to write, so the commits stall less behind its I/O (reports/soak-ha.md).
switchover() {
  local lead port cand
  read -r lead port < <(leader) || die "no leader"
  cand=${1:-$(curl -fsS "http://127.0.0.1:$(node_rest 1)/cluster" \
    | /usr/bin/python3 -c 'import json,sys; print(next((m["name"] for m in json.load(sys.stdin)["members"] if m["role"]=="sync_standby"), ""))')}
  [ -n "$cand" ] || die "no synchronous standby to switch over to (make status-ha)"
  log "CHECKPOINT on the leader $lead, then switchover $lead -> $cand"
  PGHOST=$HA_RUN PGPORT=$port PGUSER=postgres PGDATABASE=$MEMORY_DB PGPASSFILE=$PGPASS_HA psql -X -q -c CHECKPOINT
  patronictl_ switchover --leader "$lead" --candidate "$cand" --force "$SCOPE"
}

psql_() {  # psql as the superuser on node n (default: the leader)
  local port
  if [ -n "${1:-}" ]; then port=$(node_pgport "$1"); else port=$(leader | cut -d' ' -f2); fi
  PGHOST=$HA_RUN PGPORT=$port PGUSER=postgres PGDATABASE=$MEMORY_DB PGPASSFILE=$PGPASS_HA exec psql -X "${@:2}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  dsn) dsn ;;
  leader) leader ;;
  members) for n in "${NODES[@]}"; do echo "pg$n $(node_pgport "$n") $(node_rest "$n")"; done ;;
  patronictl) shift; patronictl_ "$@" ;;
  switchover) shift; switchover "$@" ;;
  psql) shift; psql_ "$@" ;;
  *) die "usage: ha.sh up|down|status|dsn|leader|members|switchover [member]|patronictl ARGS|psql [node [psql args]]" ;;
esac
