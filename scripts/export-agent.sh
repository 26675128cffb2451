#!/usr/bin/env bash
# Exports an agent's whole memory to a newline-delimited JSON file (memory.export_agent).
#   scripts/export-agent.sh --agent NAME [--out FILE] [--memory-db agent_memory]
#   make export AGENT=NEXUS [OUT=file]
# Default file: var/exports/<agent>-<UTC time>.ndjson. The file is written next to its
# final name and moved into place once complete and checked (the header's sha256 must
# match the lines after it: `tail -n +2 FILE | sha256sum`). It holds the agent's memory
# in clear text: keep it as private as the database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

agent='' out='' memory_db=$MEMORY_DB
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) agent=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --memory-db) memory_db=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$agent" ] || die "--agent NAME is required"
export PGDATABASE=$memory_db PGAPPNAME=export-agent PGCLIENTENCODING=UTF8
if [ -z "$out" ]; then
  mkdir -p "$VAR/exports"
  out=$VAR/exports/$agent-$(date -u +%Y%m%dT%H%M%SZ).ndjson
fi
tmp=$out.partial
trap 'rm -f "$tmp"' EXIT
(umask 077; : > "$tmp")
# One value per line, unaligned and unescaped (JSON text holds no raw newline); a
# cursor keeps psql's memory flat.
echo "SELECT line FROM memory.export_agent(:'agent') AS line" \
  | psql -X -q -At -v ON_ERROR_STOP=1 -v FETCH_COUNT=2000 -v agent="$agent" -o "$tmp"
want=$(head -1 "$tmp" | sed -n 's/.*"sha256" *: *"\([0-9a-f]\{64\}\)".*/\1/p')
got=$(tail -n +2 "$tmp" | sha256sum | cut -d' ' -f1)
if [ -z "$want" ] || [ "$want" != "$got" ]; then
  die "the export does not match its checksum (want $want, got $got)"
fi
mv "$tmp" "$out"
trap - EXIT
log "exported agent $agent: $(($(wc -l < "$out") - 1)) records, $(du -h "$out" | cut -f1) -> $out"
echo "$out"
