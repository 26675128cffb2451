#!/usr/bin/env bash
# Development only: drops the memory database and rebuilds it from sql/ (for when an
# unreleased migration was edited). Every stored memory in it is lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
bash "$ROOT/scripts/daemon.sh" stop || true
PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$MEMORY_DB\" WITH (FORCE)"
# pg_cron's scheduler stops when its database is dropped; a restart brings it back.
bash "$ROOT/scripts/cluster.sh" restart
bash "$ROOT/scripts/db.sh"
bash "$ROOT/scripts/daemon.sh" start
