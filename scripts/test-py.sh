#!/usr/bin/env bash
# Runs the pytest suites under python/tests against the running stack.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
exec "$VENV/bin/pytest" -q -p no:cacheprovider python/tests "$@"
