#!/usr/bin/env bash
# Entrypoint of Dockerfile.postgres (runs as root, then runs the server as postgres).
# Every start does what `make up` does for the database: scripts/cluster.sh initialises
# the cluster on first start, scripts/db.sh creates the database, applies migrations and
# functions and sets the login roles' passwords. Then the server runs in the foreground.
# Passwords come from Docker secrets in /run/secrets: postgres_password,
# memory_operator_password, memory_daemon_password.
set -euo pipefail
root=/opt/agent-memory
# The secrets are copied where only postgres can read them (the mounted files keep the
# host's owner and mode), with a libpq password file for the scripts.
export MEMORY_SECRETS_DIR=/run/agent-memory-secrets
export MEMORY_PGPASS=$MEMORY_SECRETS_DIR/pgpass
. "$root/docker/secrets.sh"
copy_secrets postgres "$MEMORY_SECRETS_DIR" postgres_password memory_operator_password memory_daemon_password
(umask 077; printf '*:*:*:postgres:%s\n' "$(cat "$MEMORY_SECRETS_DIR/postgres_password")" > "$MEMORY_PGPASS")
chown postgres: "$MEMORY_PGPASS"
# The embed daemon's socket folder (a volume shared with the daemon's container):
# owned by the daemon's uid, group postgres, so both may use the socket.
install -d -o 998 -g 999 -m 2770 /var/run/agent-memory

# Set-up runs on a server that listens on the container's loopback only (so nothing
# outside sees it before it is ready); the server that stays listens on every address
# of the container's network (published on the host's loopback by compose).
bash "$root/scripts/cluster.sh" start
bash "$root/scripts/db.sh"
bash "$root/scripts/cluster.sh" stop
. "$root/scripts/lib.sh"
exec runuser -u postgres -- "$PG_BIN/postgres" -D "$PGDATA_DIR" -c "listen_addresses=*"
