#!/usr/bin/env bash
# The failover soak (python/soak_ha) against the HA stack of `make up-ha`, started here
# when it is not running. Usage: soak-ha.sh [--profile short|long] [--report FILE]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/ha.sh" up >/dev/null
cd "$ROOT"
export PYTHONPATH=$ROOT/python
exec "$VENV/bin/python" -m soak_ha "$@"
