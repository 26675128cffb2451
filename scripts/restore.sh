#!/usr/bin/env bash
# Restores a backup of scripts/backup.sh into a fresh database and checks it.
#   scripts/restore.sh BACKUP_DIR --dbname NAME [--globals] [--no-jobs] [--replace]
#       [--host DIR_OR_HOST --port PORT]
#   scripts/restore.sh --drop NAME        (removes a restored database and its jobs)
#   make restore BACKUP=DIR DB=NAME [ARGS=--globals]
#
# 1. The files are checked against SHA256SUMS; NAME must not exist (it is created), or
#    with --replace it may exist if it holds no agent (e.g. the empty memory database
#    `make up` creates on a new machine): it is dropped first. --host/--port restore
#    into another cluster (default: this project's).
# 2. --globals first replays globals.sql (roles and memberships, for a new cluster;
#    roles that exist are left as they are). Passwords are not in a backup: set them
#    with scripts/db.sh and scripts/seed.sh from .secrets/.
# 3. pg_restore. pg_cron keeps its job table in the database named by
#    cron.database_name (agent_memory), and its extension can only be created there:
#    - NAME is that database (the memory database itself was lost): everything is
#      restored, pg_cron's jobs included. pg_cron's scheduler stops when its database
#      is dropped: restart the cluster afterwards (scripts/cluster.sh restart).
#    - NAME is another database: pg_cron's extension, job table and history are left
#      out, and the backup's jobs are scheduled again from cron-jobs.tsv in the cron
#      database, pointed at NAME, named <job>@<NAME> (unless --no-jobs).
# 4. Database-level grants (not part of a pg_dump without --create) are set as migration
#    001 sets them.
# 5. Checks, before any job can run in NAME: every table's row count, the number of
#    functions, policies and tables with row-level security, and the schema version
#    equal the manifest (counted in the dump's own snapshot). Then the jobs are
#    scheduled (step 3) and counted. Exit 1 when anything differs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

backup='' dbname='' globals=false jobs=true drop='' replace=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dbname) dbname=$2; shift 2 ;;
    --globals) globals=true; shift ;;
    --no-jobs) jobs=false; shift ;;
    --replace) replace=true; shift ;;
    --drop) drop=$2; shift 2 ;;
    --host) export PGHOST=$2; shift 2 ;;
    --port) export PGPORT=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    -*) die "unknown argument $1 (see --help)" ;;
    *) [ -z "$backup" ] || die "one backup at a time"; backup=$1; shift ;;
  esac
done
export PGAPPNAME=restore
cron_db=$(PGDATABASE=postgres psql -X -At -c "SELECT current_setting('cron.database_name', true)")
qc() { PGDATABASE=${cron_db:-$MEMORY_DB} psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

if [ -n "$drop" ]; then
  if [ "$drop" = "$MEMORY_DB" ] || [ "$drop" = "$cron_db" ]; then die "refusing to drop the memory database $drop"; fi
  n=$(echo "SELECT count(cron.unschedule(jobid)) FROM cron.job WHERE database = :'db'" | qc -v db="$drop")
  PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 -v db="$drop" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
  log "dropped database $drop and its $n pg_cron job(s)"
  exit 0
fi

[ -n "$backup" ] && [ -n "$dbname" ] || die "usage: restore.sh BACKUP_DIR --dbname NAME [--globals] [--no-jobs]"
[[ $dbname =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "--dbname must be a lower-case name (letters, digits, _)"
for f in memory.dump globals.sql cron-jobs.tsv manifest.json SHA256SUMS; do
  [ -r "$backup/$f" ] || die "$backup is not a backup of scripts/backup.sh (no $f)"
done
(cd "$backup" && sha256sum --quiet -c SHA256SUMS) || die "the backup's files do not match SHA256SUMS"
exists=$(PGDATABASE=postgres psql -X -At -v db="$dbname" <<< "SELECT count(*) FROM pg_database WHERE datname = :'db'")
if [ "$exists" != 0 ]; then
  [ "$replace" = true ] || die "database $dbname exists; restore into a fresh database (or --replace an empty one)"
  agents=0
  if [ "$(PGDATABASE=$dbname psql -X -At -c "SELECT to_regclass('memory.agents') IS NOT NULL")" = t ]; then
    agents=$(PGDATABASE=$dbname psql -X -At -c "SELECT count(*) FROM memory.agents")
  fi
  [ "$agents" = 0 ] || die "database $dbname holds $agents agent(s): --replace only replaces a database without memory"
  PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 -v db="$dbname" <<'SQL'
SELECT format('DROP DATABASE %I WITH (FORCE)', :'db') \gexec
SQL
  log "dropped the empty database $dbname"
fi
start=$(date +%s%N)

if [ "$globals" = true ]; then
  # Existing roles make CREATE ROLE fail; the rest of the file still applies.
  PGDATABASE=postgres psql -X -q -f "$backup/globals.sql" >/dev/null 2>"$backup/.globals.log" || true
  log "globals replayed ($(grep -c 'already exists' "$backup/.globals.log" || true) role(s) existed already)"
  rm -f "$backup/.globals.log"
fi

PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 -v db="$dbname" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') \gexec
SQL
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if [ "$dbname" = "$cron_db" ]; then
  "$PG_BIN/pg_restore" -l "$backup/memory.dump" > "$list"
else
  # pg_cron's extension, its comment, table data, sequences and privileges stay out.
  "$PG_BIN/pg_restore" -l "$backup/memory.dump" \
    | grep -Ev '^[0-9]+; [0-9]+ [0-9]+ (EXTENSION - pg_cron|COMMENT - EXTENSION pg_cron|ACL - SCHEMA cron |ACL cron |TABLE DATA cron |SEQUENCE SET cron )' \
    > "$list"
fi
"$PG_BIN/pg_restore" --exit-on-error -L "$list" -d "$dbname" "$backup/memory.dump"

export PGDATABASE=$dbname
psql -X -q -v ON_ERROR_STOP=1 -v db="$dbname" <<'SQL'
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO memory_agent, memory_worker, memory_reader, memory_admin', :'db') \gexec
SQL

# Verification against the manifest.
status=0
"$VENV/bin/python" - "$backup" "$dbname" <<'PY' || status=$?
import json
import sys

import psycopg
from psycopg import sql

backup, dbname = sys.argv[1:]
manifest = json.load(open(f"{backup}/manifest.json"))
problems = []
with psycopg.connect(dbname=dbname) as conn:
    for table, want in manifest["tables"].items():
        got = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))).fetchone()[0]
        if got != want:
            problems.append(f"{table}: {got} rows, the backup has {want}")
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'memory'::regnamespace),
               (SELECT count(*) FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
                WHERE c.relnamespace = 'memory'::regnamespace),
               (SELECT count(*) FROM pg_class WHERE relnamespace = 'memory'::regnamespace AND relrowsecurity),
               (SELECT max(name) FROM memory_meta.schema_migrations)
        """
    ).fetchone()
    for key, got in zip(("functions", "policies", "tables_with_rls", "schema_version"), row):
        if got != manifest[key]:
            problems.append(f"{key}: {got}, the backup has {manifest[key]}")
for p in problems:
    print(f"[agent-memory] restore check: {p}", file=sys.stderr)
total = sum(manifest["tables"].values())
print(
    f"[agent-memory] restore check: {len(manifest['tables'])} tables ({total} rows), "
    f"{manifest['functions']} functions, {manifest['policies']} policies: "
    + ("all there" if not problems else f"{len(problems)} difference(s)"),
    file=sys.stderr,
)
sys.exit(1 if problems else 0)
PY
scheduled=0
if [ "$dbname" != "$cron_db" ] && [ "$jobs" = true ] && [ -n "$cron_db" ]; then
  while IFS=$'\t' read -r name schedule command user active; do
    [ -n "$name" ] || continue
    qc -v name="$name@$dbname" -v schedule="$schedule" -v command="$command" -v db="$dbname" -v user="$user" \
      -v active="$active" -o /dev/null <<'SQL'
SELECT cron.schedule_in_database(:'name', :'schedule', :'command', :'db', :'user', :'active'::boolean);
SQL
    scheduled=$((scheduled + 1))
  done < "$backup/cron-jobs.tsv"
fi

want=$(grep -c . "$backup/cron-jobs.tsv" || true)
if [ -n "$cron_db" ] && [ "$jobs" = true ]; then
  if [ "$dbname" = "$cron_db" ]; then pattern='%'; else pattern="%@$dbname"; fi
  got=$(echo "SELECT count(*) FROM cron.job WHERE database = :'db' AND jobname LIKE :'pattern'" \
        | qc -v db="$dbname" -v pattern="$pattern")
  if [ "$got" != "$want" ]; then
    log "restore check: $got pg_cron job(s) run in $dbname, the backup has $want"
    status=1
  else
    log "restore check: the backup's $want pg_cron job(s) run in $dbname"
  fi
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "restored $backup into $dbname in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s ($scheduled job(s) scheduled for it)"
[ "$dbname" = "$cron_db" ] && log "pg_cron: restart the cluster (scripts/cluster.sh restart) so its scheduler runs this database's jobs"
exit $status
