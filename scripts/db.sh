#!/usr/bin/env bash
# Creates the memory database if missing, applies migrations and functions, and sets
# the passwords of the stack's login roles from .secrets/. Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

if [ "$(PGDATABASE=postgres psql -X -At -c "SELECT 1 FROM pg_database WHERE datname = '$MEMORY_DB'")" != 1 ]; then
  log "creating database $MEMORY_DB"
  PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$MEMORY_DB\""
fi
"$ROOT/scripts/migrate.sh" "$ROOT/sql"

# Any login may connect to a database that grants PUBLIC CONNECT (the default): an
# agent could list the cluster's roles and databases from `postgres`. Only the memory
# database admits the project's roles (migration 001); superusers are not affected.
PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 \
  -c 'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC' -c 'REVOKE CONNECT ON DATABASE template1 FROM PUBLIC'

# Passwords come from the secrets files and travel over the socket only; a role whose
# password already works is left alone, so a second run changes nothing.
for role in memory_operator memory_daemon memory_exporter; do
  PGUSER=$role psql -X -q -c 'SELECT 1' >/dev/null 2>&1 && continue
  psql -X -q -v ON_ERROR_STOP=1 -v pw="$(secret "${role}_password")" -o /dev/null <<SQL
SET log_statement = 'none';
SELECT format('ALTER ROLE %I PASSWORD %L', '$role', :'pw') \gexec
SQL
done
