#!/usr/bin/env bash
# Imports a file written by scripts/export-agent.sh (memory.import_agent), in one
# transaction: a malformed file leaves nothing behind, and importing a file again
# writes nothing.
#   scripts/import-agent.sh FILE [--as NAME] [--role ROLE] [--remap | --keep-ids]
#       [--memory-db agent_memory]
#   make import FILE=... [AS=name] [ROLE=login_role]
# --as imports under another agent name (default: the exported name); a new agent is
# created and bound to --role (an existing login role). Ids are kept unless another
# agent of the database holds some of them: then they are remapped (derived from the
# old ids); --remap forces that, --keep-ids refuses instead. Vectors are reused when
# the database has the same embedding model, otherwise the daemon re-embeds the texts.
# Prints the import's summary as JSON.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

file='' as='' role='' remap='' memory_db=$MEMORY_DB
while [ $# -gt 0 ]; do
  case "$1" in
    --as) as=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --remap) remap=true; shift ;;
    --keep-ids) remap=false; shift ;;
    --memory-db) memory_db=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) die "unknown argument $1 (see --help)" ;;
    *) [ -z "$file" ] || die "one file at a time"; file=$1; shift ;;
  esac
done
[ -n "$file" ] || die "usage: import-agent.sh FILE [--as NAME] [--role ROLE] [--remap | --keep-ids]"
[ -r "$file" ] || die "cannot read $file"
export PGDATABASE=$memory_db PGAPPNAME=import-agent

# The file goes to the database byte for byte (psql variables and COPY would change
# backslashes or the final newline): a few lines of Python with psycopg.
exec "$VENV/bin/python" - "$file" "$as" "$role" "$remap" <<'PY'
import json
import sys

import psycopg

path, name, role, remap = sys.argv[1:]
try:
    text = open(path, "rb").read().decode("utf-8")
except UnicodeDecodeError as exc:
    sys.exit(f"[agent-memory] error: {path} is not UTF-8 ({exc})")
with psycopg.connect() as conn:
    try:
        row = conn.execute(
            "SELECT memory.import_agent(%s, %s, %s, %s)",
            (text, name or None, role or None, {"true": True, "false": False}.get(remap)),
        ).fetchone()
        # a new agent's login role gets its limits (ALTER ROLE: the operator's rights)
        conn.execute("SELECT memory.apply_agent_limits(%s)", (row[0]["agent"],))
    except psycopg.Error as exc:
        d = exc.diag
        msg = f"[agent-memory] error: {d.sqlstate}: {d.message_primary}"
        for label, part in (("detail", d.message_detail), ("hint", d.message_hint)):
            if part:
                msg += f"\n  {label}: {part}"
        sys.exit(msg)
print(json.dumps(row[0], indent=2, sort_keys=True))
PY
