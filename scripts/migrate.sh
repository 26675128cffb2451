#!/usr/bin/env bash
# Migration runner. Connects with the libpq environment (PGHOST, PGPORT, PGUSER,
# PGDATABASE, PGPASSFILE) as a superuser.
#   1. sql/migrations/NNN-name.sql: each applied exactly once, in its own transaction,
#      recorded in memory_meta.schema_migrations with its sha256. If an applied file's
#      sha256 changed, the runner stops before touching anything and names the file.
#   2. sql/functions/*.sql: CREATE OR REPLACE code, re-applied on every run, all in one
#      transaction (a broken file leaves the previous functions in place).
# Usage: migrate.sh [SQL_DIR]   (default: the repository's sql/)
# The Docker image runs this same script from docker-entrypoint-initdb.d.
set -euo pipefail
sql_dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/sql}
say() { printf '[migrate] %s\n' "$*" >&2; }
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

[ -d "$sql_dir/migrations" ] || { say "error: no migrations folder in $sql_dir"; exit 2; }

psql_q <<'SQL'
CREATE SCHEMA IF NOT EXISTS memory_meta;
COMMENT ON SCHEMA memory_meta IS 'bookkeeping of the migration runner';
CREATE TABLE IF NOT EXISTS memory_meta.schema_migrations (
    name text PRIMARY KEY,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
);
REVOKE ALL ON SCHEMA memory_meta FROM PUBLIC;
SQL

declare -A applied=()
while IFS='|' read -r name sha; do
  [ -n "$name" ] && applied[$name]=$sha
done < <(psql_q -At -F '|' -c 'SELECT name, sha256 FROM memory_meta.schema_migrations')

# Refuse drift before applying anything.
drift=0
shopt -s nullglob
files=("$sql_dir"/migrations/*.sql)
for f in "${files[@]}"; do
  name=$(basename "$f")
  [[ $name =~ ^[0-9]{3}-[a-z0-9-]+\.sql$ ]] || { say "error: migration file name '$name' is not NNN-kebab-name.sql"; exit 2; }
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  if [ -n "${applied[$name]:-}" ] && [ "${applied[$name]}" != "$sha" ]; then
    say "error: migration $name was edited after it was applied (recorded sha256 ${applied[$name]}, file now $sha)."
    say "       An applied migration is frozen: restore the file and put the change in a new migration."
    drift=1
  fi
done
for name in "${!applied[@]}"; do
  [ -f "$sql_dir/migrations/$name" ] || { say "error: migration $name is recorded as applied but its file is missing"; drift=1; }
done
[ "$drift" = 0 ] || exit 3

n=0
for f in "${files[@]}"; do
  name=$(basename "$f")
  [ -n "${applied[$name]:-}" ] && continue
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  say "applying $name"
  psql_q --single-transaction -o /dev/null \
    -c "SELECT pg_advisory_xact_lock(hashtext('memory_meta.migrate'))" \
    -f "$f" \
    -c "RESET ROLE" \
    -c "INSERT INTO memory_meta.schema_migrations (name, sha256) VALUES ('$name', '$sha')"
  n=$((n + 1))
done
[ "$n" = 0 ] || say "$n migration(s) applied"

fargs=()
for f in "$sql_dir"/functions/*.sql; do fargs+=(-f "$f" -c "RESET ROLE"); done
if [ ${#fargs[@]} -gt 0 ]; then
  psql_q --single-transaction -o /dev/null \
    -c "SELECT pg_advisory_xact_lock(hashtext('memory_meta.migrate'))" "${fargs[@]}"
fi
