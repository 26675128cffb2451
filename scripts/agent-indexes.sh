#!/usr/bin/env bash
# Gives every agent too large to be ranked exactly its own HNSW index, and drops the
# indexes no longer needed (sql/functions/047-agent-vector-indexes.sql):
#   scripts/agent-indexes.sh [--min-chunks N] [--memory-db agent_memory] [--dry-run]
#   make agent-indexes [MIN_CHUNKS=N]
# Runs the statements of memory.agent_vector_index_plan() one by one, each in its own
# session: CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction or a function.
# The daemon and the searches go on meanwhile. A build that fails leaves an invalid
# index, which the next run drops and builds again. Run it again whenever
# memory_agents_needing_own_vector_index (memory.health()) is above 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

min_chunks='' memory_db=$MEMORY_DB dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --min-chunks) min_chunks=$2; shift 2 ;;
    --memory-db) memory_db=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ -z $min_chunks || $min_chunks =~ ^[0-9]{1,9}$ ]] || die "--min-chunks takes a whole number, got $min_chunks"
export PGDATABASE=$memory_db PGAPPNAME=agent-indexes
plan=$(psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 \
  -c "SELECT action, agent, model, chunks, statement FROM memory.agent_vector_index_plan(${min_chunks:-NULL})")
if [ -z "$plan" ]; then
  log "every agent too large to be ranked exactly has its own HNSW index; nothing to do"
  exit 0
fi
while IFS=$'\t' read -r action agent model chunks statement; do
  log "$action the HNSW index of agent $agent, model $model ($chunks chunks)"
  if [ "$dry_run" = 1 ]; then
    printf '%s;\n' "$statement"
    continue
  fi
  # no statement timeout: a large agent's graph takes minutes to build
  PGOPTIONS="-c statement_timeout=0 -c maintenance_work_mem=1GB" \
    psql -X -q -v ON_ERROR_STOP=1 -c "$statement"
done <<< "$plan"
log "done"
