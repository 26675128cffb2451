#!/usr/bin/env bash
# Runs the pytest suites under python/ha_tests against the HA stack (`make up-ha`).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
exec "$VENV/bin/pytest" -q -p no:cacheprovider python/ha_tests "$@"
