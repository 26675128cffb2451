#!/usr/bin/env bash
# Lint: sqlfluff (postgres dialect, .sqlfluff; sql/tests/.sqlfluff for the pgTAP suites) on
# sql/, ruff on python/, promtool on monitoring/alerts.yml.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$VENV/bin/sqlfluff" lint --disable-progress-bar --processes 2 sql
"$VENV/bin/ruff" check python
"$VENV/bin/ruff" format --check python
# Prometheus alert rules (promtool comes with Debian's prometheus package)
promtool check rules monitoring/alerts.yml
echo "lint: passed"
