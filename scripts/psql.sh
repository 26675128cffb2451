#!/usr/bin/env bash
# Opens psql as the operator over the project's Unix socket.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export PGHOST=$RUN_DIR PGPORT=$PGPORT_MEMORY PGUSER=memory_operator PGDATABASE=$MEMORY_DB
export PGPASSFILE=$PGPASS
exec psql "$@"
