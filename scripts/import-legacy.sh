#!/usr/bin/env bash
# Imports a live legacy database ("the old brain") into an agent, through postgres_fdw,
# in batches of one transaction each, then prints the verification report.
#
#   scripts/import-legacy.sh --agent NAME [--role ROLE] [--server legacy_brain]
#       [--dbname legacy_brain] [--host DIR_OR_HOST] [--port PORT] [--user legacy_reader]
#       [--password-file FILE] [--batch 500] [--remote-schema public]
#       [--core-schema nexus_memory] [--column-map JSON] [--memory-db agent_memory] [--again]
#       [--report-only] [--drop-server]
#   make import-legacy AGENT=NEXUS [ROLE=agent_nexus] [SERVER=...] [LEGACY_DB=...] [ARGS=...]
#
# Set-up (as the superuser, idempotent): the foreign server (host defaults to this
# cluster's socket directory, port to its port), USAGE on it for memory_owner, and a user
# mapping for memory_owner with the remote user's password read from --password-file
# (default .secrets/<user>_password; never on a command line, never logged). With --role,
# a missing agent is created and bound to that existing login role.
#
# The old episodes may be in any known layout (public.zep_episodic_memory keyed by
# episode_id, nexus_memory.zep_episodic_memory keyed by uuid, memory_system.episodes);
# --column-map '{"episodes": {"table": "old.notes", "content": "body"}}' names the table
# and columns of another one (docs/portability.md).
# Then memory.import_legacy() is called until it reports done, one transaction per call:
# kill this script at any moment and run it again, and it resumes after the last
# committed batch; nothing is written twice. --again runs a full second pass over an
# import that is done (it writes only what is missing). --drop-server removes the
# foreign server, its user mapping and foreign tables afterwards.
# Exit status: 0 when the report finds nothing missing, duplicated or different, 1 when
# it does, 2 on errors. Embedding coverage grows while the daemon works: the report shows
# it, it is not part of the exit status.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

server=legacy_brain dbname=legacy_brain host=$RUN_DIR port=$PGPORT_MEMORY user=legacy_reader
password_file='' agent='' role='' batch=500 remote_schema=public core_schema=nexus_memory column_map=''
memory_db=$MEMORY_DB again=false report_only=false drop_server=false
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) agent=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --dbname) dbname=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --password-file) password_file=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --remote-schema) remote_schema=$2; shift 2 ;;
    --core-schema) core_schema=$2; shift 2 ;;
    --column-map) column_map=$2; shift 2 ;;
    --memory-db) memory_db=$2; shift 2 ;;
    --again) again=true; shift ;;
    --report-only) report_only=true; shift ;;
    --drop-server) drop_server=true; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$agent" ] || die "--agent NAME is required"
[[ $server =~ ^[a-z][a-z0-9_]{0,39}$ ]] || die "--server must be 1-40 lower-case letters, digits or _"
[[ $batch =~ ^[0-9]+$ ]] || die "--batch must be a number"
export PGDATABASE=$memory_db PGAPPNAME=import-legacy
password_file=${password_file:-$SECRETS/${user}_password}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -v server="$server" -v agent="$agent" "$@"; }

if [ "$report_only" = false ]; then
  [ -r "$password_file" ] || die "no password file $password_file for remote user $user (see --password-file)"
  # The password travels in a psql variable over the socket; log_statement is off for
  # this session, so it reaches no log.
  q -v dbname="$dbname" -v host="$host" -v port="$port" -v user="$user" \
    -v pw="$(cat "$password_file")" -o /dev/null <<'SQL'
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
              :'server', :'host', :'port', :'dbname')
WHERE NOT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = :'server') \gexec
SELECT format('ALTER SERVER %I OPTIONS (SET host %L, SET port %L, SET dbname %L)', :'server', :'host', :'port', :'dbname') \gexec
SELECT format('GRANT USAGE ON FOREIGN SERVER %I TO memory_owner', :'server') \gexec
SELECT format('CREATE USER MAPPING FOR memory_owner SERVER %I OPTIONS (user %L, password %L)', :'server', :'user', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_user_mappings WHERE srvname = :'server' AND usename = 'memory_owner') \gexec
SELECT format('ALTER USER MAPPING FOR memory_owner SERVER %I OPTIONS (SET user %L, SET password %L)', :'server', :'user', :'pw') \gexec
SQL
  if [ -n "$role" ]; then
    echo "SELECT memory.create_agent(:'agent', :'role') WHERE NOT EXISTS (SELECT 1 FROM memory.agents WHERE name = :'agent')" \
      | q -v role="$role" -o /dev/null
  fi

  start=$(date +%s%N)
  restart=$again
  while :; do
    out=$(echo "SELECT r->>'phase', r->>'rows_read', r->>'rows_written', r->>'next_phase', r->>'done', r->>'batches'
                FROM memory.import_legacy(:'server', :'agent', :batch, :'rs', :'cs', :restart,
                                          nullif(:'cm', '')::jsonb) AS r" \
          | q -v batch="$batch" -v rs="$remote_schema" -v cs="$core_schema" -v restart="$restart" \
              -v cm="$column_map" -F $'\t') || exit 2
    restart=false
    IFS=$'\t' read -r phase nread nwritten next finished batches <<<"$out"
    log "$phase: read $nread, wrote $nwritten (batch $batches)${next:+, next: $next}"
    [ "$finished" = true ] && break
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  log "import finished in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
fi

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
bad=$(psql -X -q -v ON_ERROR_STOP=1 -v server="$server" -v agent="$agent" -P pager=off <<'SQL'
CREATE TEMP TABLE report AS SELECT * FROM memory.legacy_import_report(:'server', :'agent');
SELECT item, old_rows, new_rows, missing_in_new AS missing, extra_in_new AS extra, duplicated AS dup,
       checksum_diffs AS checksum, field_diffs AS fields, embedded, coverage, note
FROM report;
\pset tuples_only on
SELECT 'differences: ' || coalesce(sum(missing_in_new + duplicated + checksum_diffs + field_diffs), 0) FROM report;
SQL
) || exit 2
printf '%s\n' "$bad" | grep -v '^ *differences: ' >&2 || true
bad=$(printf '%s\n' "$bad" | sed -n 's/^ *differences: //p')
if [ "$drop_server" = true ]; then
  echo "SELECT format('DROP SERVER %I CASCADE', :'server') \gexec" | q -o /dev/null
  log "dropped foreign server $server with its user mapping and foreign tables"
fi
if [ "$bad" != 0 ]; then
  log "verification: $bad difference(s) (see the report above)"
  exit 1
fi
log "verification: nothing missing, duplicated or different"
