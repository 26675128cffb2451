#!/usr/bin/env bash
# Runs the pgTAP suites (sql/tests/**/*.test.sql) through pg_prove against the
# memory database that `make up` made. Each file runs in a transaction that it rolls
# back. pgTAP (schema tap) and the fixtures of sql/tests/fixtures.sql (schema tests) are
# installed by this script, never by migrations; they stay installed so that two runs
# at once do not pull them from under each other.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
export PGOPTIONS="-c client_min_messages=warning"

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE SCHEMA IF NOT EXISTS tap;
GRANT USAGE ON SCHEMA tap TO PUBLIC;
CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA tap;
SQL
psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$ROOT/sql/tests/fixtures.sql"

export PGOPTIONS="-c client_min_messages=warning -c search_path=tap,public"
if [ $# -eq 0 ]; then
  mapfile -t files < <(find "$ROOT/sql/tests" -name '*.test.sql' | sort)
  set -- "${files[@]}"
fi
pg_prove --ext .sql --failures "$@"
