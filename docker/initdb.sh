#!/usr/bin/env bash
# docker-entrypoint-initdb.d hook: applies the project's migrations and functions with
# the same runner as `make up`, then sets the login roles' passwords from Docker secrets.
set -euo pipefail
export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB"
bash /opt/agent-memory/scripts/migrate.sh /opt/agent-memory/sql
for role in memory_operator memory_daemon; do
  file=/run/secrets/${role}_password
  [ -f "$file" ] || { echo "missing secret $file" >&2; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 -v pw="$(cat "$file")" -o /dev/null <<SQL
SET log_statement = 'none';
SELECT format('ALTER ROLE %I PASSWORD %L', '$role', :'pw') \gexec
SQL
done
