# Shared helpers and paths for the project's shell scripts. Sourced, not executed.
# shellcheck shell=bash
log() { printf '[agent-memory] %s\n' "$*" >&2; }
die() { printf '[agent-memory] error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../config.env
. "$ROOT/config.env"
PG_BIN=/usr/lib/postgresql/15/bin
# MEMORY_VAR_DIR moves the whole stack (data, sockets, logs); `make soak` uses var/soak.
VAR=${MEMORY_VAR_DIR:-$ROOT/var}
PGDATA_DIR=$VAR/pgdata
RUN_DIR=$VAR/run
LOG_DIR=$VAR/log
# MEMORY_SECRETS_DIR: another secrets folder (the Postgres image copies Docker secrets there)
SECRETS=${MEMORY_SECRETS_DIR:-$ROOT/.secrets}
# the libpq password file of this stack (MEMORY_PGPASS: another stack, e.g. the soak's)
PGPASS=${MEMORY_PGPASS:-$SECRETS/pgpass}
VENV=$ROOT/.venv
SERVICE_USER=postgres   # the OS account the Debian package creates

# Runs a command as the service account when we are root (initdb and postgres refuse
# to run as root), as ourselves otherwise.
as_service() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$SERVICE_USER" -- "$@"; else "$@"; fi
}

secret() { cat "$SECRETS/$1"; }

# libpq environment for the superuser over the project's Unix socket.
pg_env_super() {
  export PGHOST=$RUN_DIR PGPORT=$PGPORT_MEMORY PGUSER=postgres PGDATABASE=$MEMORY_DB
  export PGPASSFILE=$PGPASS
}

# Logs are 0640 or tighter (docs/security.md): files that exist are tightened, new ones
# are created under umask 027 by the scripts that start the services.
restrict_logs() {
  if [ -d "$LOG_DIR" ]; then
    find "$LOG_DIR" -maxdepth 1 -type f -perm /0137 -exec chmod u-x,g-wx,o-rwx {} +
  fi
}
