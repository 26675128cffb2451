#!/usr/bin/env bash
# Optional seed (`make seed`; never run by migrations): the agents NEXUS and ARIA with
# their login roles agent_nexus and agent_aria, and NEXUS's five identity blocks.
#   - passwords are generated once into .secrets/agent_nexus_password and
#     .secrets/agent_aria_password and set over the socket; never printed or logged
#   - .secrets/pgpass gets one line per role for the socket, 127.0.0.1 and localhost
#     (scripts/secrets.sh rewrites pgpass on `make up`: run `make seed` again after it)
#   - sql/seed/*.sql, in order, each in one transaction, as the superuser
# Idempotent: a second run changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super

roles=(agent_nexus agent_aria)

mkdir -p "$SECRETS"
chmod 700 "$SECRETS"
for role in "${roles[@]}"; do
  if [ ! -s "$SECRETS/${role}_password" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$SECRETS/${role}_password")
    log "generated secret ${role}_password"
  fi
done

# pgpass: drop this seed's lines, then append them again (the password may be new).
(
  umask 077
  touch "$SECRETS/pgpass"
  pattern=$(printf ':%s:|' "${roles[@]}")
  grep -Ev "(${pattern%|})[^:]*$" "$SECRETS/pgpass" > "$SECRETS/pgpass.new" || true
  for role in "${roles[@]}"; do
    for host in "$RUN_DIR" 127.0.0.1 localhost; do
      printf '%s:%s:*:%s:%s\n' "$host" "$PGPORT_MEMORY" "$role" "$(secret "${role}_password")" >> "$SECRETS/pgpass.new"
    done
  done
  mv "$SECRETS/pgpass.new" "$SECRETS/pgpass"
)
if [ "$(id -u)" = 0 ]; then chown -R "$SERVICE_USER": "$SECRETS"; fi

shopt -s nullglob
seeds=("$ROOT"/sql/seed/*.sql)
[ ${#seeds[@]} -gt 0 ] || die "no seed files in sql/seed"

# Roles and agents first, then the passwords, then what the agents own.
psql -X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null -f "${seeds[0]}"
for role in "${roles[@]}"; do
  PGUSER=$role psql -X -q -c 'SELECT 1' >/dev/null 2>&1 && continue
  psql -X -q -v ON_ERROR_STOP=1 -v pw="$(secret "${role}_password")" -o /dev/null <<SQL
SET log_statement = 'none';
SELECT format('ALTER ROLE %I PASSWORD %L', '$role', :'pw') \gexec
SQL
done
for f in "${seeds[@]:1}"; do
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null -f "$f"
done

for role in "${roles[@]}"; do
  PGUSER=$role psql -X -q -c 'SELECT 1' >/dev/null 2>&1 || die "$role cannot log in with its password"
done
log "seeded agents NEXUS (agent_nexus) and ARIA (agent_aria); passwords in .secrets/, connect with PGPASSFILE=.secrets/pgpass"
