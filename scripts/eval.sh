#!/usr/bin/env bash
# make eval: retrieval evaluation on the LoCoMo development split (python/bench/locomo.py)
# against the running stack; the report goes to reports/eval-locomo.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
data=${LOCOMO_DIR:-$ROOT/../shared/datasets/locomo-dev}
exec "$VENV/bin/python" -m bench.locomo --data "$data" --report "$ROOT/reports/eval-locomo.md" "$@"
