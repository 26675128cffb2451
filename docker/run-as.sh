#!/usr/bin/env bash
# Entrypoint of the daemon and Redis images: copies the named Docker secrets to
# /run/agent-memory-secrets (readable by USER only), then runs the command as USER.
# Usage: run-as.sh USER SECRET... -- COMMAND...
set -euo pipefail
. "$(dirname "$0")/secrets.sh"
user=$1
shift
names=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1"); shift; done
[ "${1:-}" = -- ] || { echo "usage: run-as.sh USER SECRET... -- COMMAND..." >&2; exit 2; }
shift
copy_secrets "$user" /run/agent-memory-secrets "${names[@]}"
exec runuser -u "$user" -- "$@"
