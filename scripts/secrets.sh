#!/usr/bin/env bash
# Generates the local secrets once, into .secrets/ (git-ignored, mode 0700).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$SECRETS"
chmod 700 "$SECRETS"
gen() {  # 32 random bytes, URL-safe, no characters that need quoting anywhere
  [ -s "$SECRETS/$1" ] && return 0
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$SECRETS/$1")
  log "generated secret $1"
}
gen postgres_password          # cluster superuser (migrations, tests)
gen memory_operator_password   # the operator: make psql / make dsn
gen memory_daemon_password     # the embed daemon (memory_worker)
gen memory_exporter_password  # prometheus-postgres-exporter (a memory_reader login)
gen redis_password

# One pgpass for the socket and the loopback address.
(
  umask 077
  : > "$PGPASS.new"
  # the stack's roles, and the agents created by `make seed` (agent_*_password)
  roles=(postgres memory_operator memory_daemon memory_exporter)
  for f in "$SECRETS"/agent_*_password; do
    [ -e "$f" ] && roles+=("$(basename "$f" _password)")
  done
  for role in "${roles[@]}"; do
    for host in "$RUN_DIR" 127.0.0.1 localhost; do
      printf '%s:%s:*:%s:%s\n' "$host" "$PGPORT_MEMORY" "$role" "$(secret ${role}_password)" >> "$PGPASS.new"
    done
  done
  mv "$PGPASS.new" "$PGPASS"
)
# The services run as the service account and read their own secrets.
if [ "$(id -u)" = 0 ]; then chown -R "$SERVICE_USER": "$SECRETS" "$PGPASS"; fi
