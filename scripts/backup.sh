#!/usr/bin/env bash
# Backs up the whole memory database: pg_dump (custom format) plus what lives outside
# it, into one folder.
#   scripts/backup.sh [--out DIR] [--memory-db agent_memory]
#   make backup [OUT=DIR]
# Default folder: var/backups/<database>-<UTC time>/ with
#   memory.dump     pg_dump -Fc of the database: schema memory, the migration records,
#                   extensions, and pg_cron's job table (it lives in this database)
#   globals.sql     pg_dumpall --globals-only --no-role-passwords: roles and memberships
#                   (passwords stay in .secrets/; scripts/db.sh and seed.sh set them)
#   cron-jobs.tsv   this database's pg_cron jobs (name, schedule, command, user, active)
#   manifest.json   rows per table, functions, policies, jobs and the schema version,
#                   counted in the very snapshot pg_dump dumps (pg_export_snapshot), so
#                   scripts/restore.sh can check that a restore holds everything
#   SHA256SUMS      of the files above
# The folder holds every memory in clear text (and the options of foreign servers):
# keep it as private as the database. Restore with scripts/restore.sh.
set -euo pipefail
umask 077
. "$(dirname "$0")/lib.sh"
pg_env_super

out='' memory_db=$MEMORY_DB
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --memory-db) memory_db=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
export PGDATABASE=$memory_db PGAPPNAME=backup
out=${out:-$VAR/backups/$memory_db-$(date -u +%Y%m%dT%H%M%SZ)}
[ -e "$out" ] && die "$out exists; pass a new folder with --out"
mkdir -p "$out"
chmod 700 "$out"
start=$(date +%s%N)

"$PG_BIN/pg_dumpall" --globals-only --no-role-passwords -f "$out/globals.sql"

# One session holds a repeatable-read snapshot: pg_dump dumps exactly it, and the
# manifest and the job list are read from it.
PG_DUMP="$PG_BIN/pg_dump" "$VENV/bin/python" - "$out" <<'PY'
import json
import os
import subprocess
import sys

import psycopg
from psycopg import sql

out = sys.argv[1]
with psycopg.connect() as conn:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = conn.execute(
            """
            SELECT n.nspname || '.' || c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('memory', 'memory_meta') AND c.relkind IN ('r', 'p')
            ORDER BY 1
            """
        ).fetchall()
        counts = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*t.split(".")))
            ).fetchone()[0]
            for (t,) in tables
        }
        has_cron = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')"
        ).fetchone()[0]
        jobs = []
        if has_cron:
            jobs = conn.execute(
                """
                SELECT jobname, schedule, command, username, active FROM cron.job
                WHERE database = current_database() ORDER BY jobname, jobid
                """
            ).fetchall()
        catalog = conn.execute(
            """
            SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'memory'::regnamespace),
                   (SELECT count(*) FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
                    WHERE c.relnamespace = 'memory'::regnamespace),
                   (SELECT count(*) FROM pg_class WHERE relnamespace = 'memory'::regnamespace AND relrowsecurity),
                   (SELECT max(name) FROM memory_meta.schema_migrations),
                   current_database(), current_setting('server_version'), now()
            """
        ).fetchone()
        subprocess.run(
            [os.environ["PG_DUMP"], "-Fc", "--snapshot", snapshot, "-f", f"{out}/memory.dump"],
            check=True,
        )
with open(f"{out}/cron-jobs.tsv", "w") as f:
    for name, schedule, command, user, active in jobs:
        for field in (name, schedule, command, user):
            if any(c in field for c in "\t\n\\"):
                sys.exit(f"[agent-memory] error: pg_cron job {name} has a tab, newline or backslash")
        f.write(f"{name}\t{schedule}\t{command}\t{user}\t{'t' if active else 'f'}\n")
with open(f"{out}/manifest.json", "w") as f:
    json.dump(
        {
            "format": "agent-memory-backup",
            "version": 1,
            "database": catalog[4],
            "server_version": catalog[5],
            "taken_at": catalog[6].isoformat(),
            "schema_version": catalog[3],
            "tables": counts,
            "functions": catalog[0],
            "policies": catalog[1],
            "tables_with_rls": catalog[2],
            "cron_jobs": len(jobs),
        },
        f,
        indent=2,
        sort_keys=True,
    )
    f.write("\n")
PY

(cd "$out" && sha256sum memory.dump globals.sql cron-jobs.tsv manifest.json > SHA256SUMS)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "backup of $memory_db in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s: $(du -sh "$out" | cut -f1) -> $out"
echo "$out"
