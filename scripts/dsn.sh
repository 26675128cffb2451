#!/usr/bin/env bash
# Prints the operator's libpq URI (TCP on loopback, password included: keep it private).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
printf 'postgresql://memory_operator:%s@127.0.0.1:%s/%s\n' \
  "$(secret memory_operator_password)" "$PGPORT_MEMORY" "$MEMORY_DB"
