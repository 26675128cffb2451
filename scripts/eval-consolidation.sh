#!/usr/bin/env bash
# make eval-consolidation: measures the thresholds of the memory-consolidation job
# (python/bench/consolidation.py) on the LoCoMo development split and the Spanish
# seeds against the running stack; the report goes to reports/eval-consolidation.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
data=${LOCOMO_DIR:-$ROOT/../shared/datasets/locomo-dev}
seeds=${SEEDS_DIR:-$ROOT/../shared/seeds}
exec "$VENV/bin/python" -m bench.consolidation --data "$data" --seeds "$seeds" \
  --report "$ROOT/reports/eval-consolidation.md" "$@"
