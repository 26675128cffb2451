#!/usr/bin/env bash
# Lint: sqlfluff (postgres dialect, .sqlfluff) on sql/, ruff on python/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$VENV/bin/sqlfluff" lint --disable-progress-bar --processes 2 sql
"$VENV/bin/ruff" check python
"$VENV/bin/ruff" format --check python
echo "lint: passed"
