#!/usr/bin/env bash
# CI check: `make down && make up` keeps every stored memory. Stores an episode as a
# throw-away agent, restarts the whole stack, reads it back, then removes the agent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
marker="persistence check $(date +%s%N)"
q <<SQL
DROP ROLE IF EXISTS ci_persistence;
CREATE ROLE ci_persistence NOLOGIN;
SELECT memory.create_agent('ci-persistence', 'ci_persistence');
SET SESSION AUTHORIZATION ci_persistence;
SELECT memory.remember('$marker');
SQL
make -s -C "$ROOT" down
make -s -C "$ROOT" up >/dev/null
found=$(q -c "SELECT count(*) FROM memory.episodes WHERE content = '$marker'")
q -c "DELETE FROM memory.agents WHERE name = 'ci-persistence'" -c "DROP ROLE ci_persistence" >/dev/null
[ "$found" = 1 ] || die "an episode stored before make down was not found after make up"
echo "persistence: an episode stored before 'make down' is there after 'make up'"
