#!/usr/bin/env bash
# Upgrade-equivalence test (make test-upgrade, part of make test).
#
# A database built at the previous release and then upgraded with this tree's migration
# runner must have the same catalog as a fresh install of this tree: the same tables,
# columns, indexes, constraints, policies, functions (bodies included), triggers, grants,
# owners and comments. Both are built in scratch databases of the running cluster and
# compared with `pg_dump --schema-only`, normalised (header lines and pg_dump's random
# \restrict keys removed). A function left behind by a removed file, a migration that
# only a fresh install runs, or an ALTER that a fresh install does differently all show
# up as a diff.
#
# The previous release is the commit named in sql/PREVIOUS_RELEASE (the last landed
# main); it is read from git, so the test needs the repository's history.
# pg_cron jobs live only in the memory database itself, so the scratch databases have
# none; memory.schedule_job skips scheduling there with a notice.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
export PGOPTIONS="-c client_min_messages=warning"
cd "$ROOT"

release=$(tr -d '[:space:]' < sql/PREVIOUS_RELEASE)
git cat-file -e "$release^{commit}" 2>/dev/null \
  || die "previous release $release (sql/PREVIOUS_RELEASE) is not in this repository's history"

work=$(mktemp -d)
old_db=upgrade_test_old
new_db=upgrade_test_fresh
cleanup() {
  for db in "$old_db" "$new_db"; do
    PGDATABASE=postgres psql -X -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

git archive "$release" sql scripts/migrate.sh | tar -x -C "$work"
for db in "$old_db" "$new_db"; do
  PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""
done

log "upgrade test: $old_db at release ${release:0:12}, then this tree's migrations"
PGDATABASE=$old_db bash "$work/scripts/migrate.sh" "$work/sql" 2>"$work/old.log" \
  || { cat "$work/old.log" >&2; die "building the previous release failed"; }
PGDATABASE=$old_db bash "$ROOT/scripts/migrate.sh" "$ROOT/sql" 2>"$work/up.log" \
  || { cat "$work/up.log" >&2; die "upgrading the previous release failed"; }
log "upgrade test: $new_db fresh from this tree"
PGDATABASE=$new_db bash "$ROOT/scripts/migrate.sh" "$ROOT/sql" 2>"$work/new.log" \
  || { cat "$work/new.log" >&2; die "the fresh install failed"; }

# The migration records differ by design (applied_at); everything else must not. An
# object's privileges are a set, but pg_dump prints them in the order of the ACL array,
# which depends on how often the grants were re-applied: runs of GRANT/REVOKE lines are
# sorted.
normalise() {
  sed -E -e '/^\\(un)?restrict /d' -e '/^-- Dumped (from|by) /d' -e '/^-- Started on/d' \
    -e '/^-- Completed on/d' \
    | python3 -c '
import sys
run = []
for line in sys.stdin:
    if line.startswith(("GRANT ", "REVOKE ")):
        run.append(line)
        continue
    sys.stdout.writelines(sorted(run))
    run = []
    sys.stdout.write(line)
sys.stdout.writelines(sorted(run))
'
}
for db in "$old_db" "$new_db"; do
  pg_dump --schema-only --dbname "$db" --exclude-schema=memory_meta | normalise > "$work/$db.sql"
done

if diff -u "$work/$new_db.sql" "$work/$old_db.sql" > "$work/catalog.diff"; then
  n=$(grep -cE '^CREATE (TABLE|FUNCTION|INDEX|POLICY|TRIGGER|VIEW)' "$work/$new_db.sql")
  echo "upgrade test: previous release ${release:0:12} + migrations = fresh install ($n tables, functions, indexes, policies, triggers and views compared)"
else
  echo "upgrade test: the upgraded catalog differs from a fresh install (- fresh, + upgraded):" >&2
  head -200 "$work/catalog.diff" >&2
  exit 1
fi
