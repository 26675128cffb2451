#!/usr/bin/env bash
# make bench-scale: the scale benchmark (python/bench/bench_scale.py), outside make test
# and CI. 100,000 then 1,000,000 episodes over 200 agents (synthetic clustered 384-d
# vectors) in a scratch database: HNSW build time and size (vector and halfvec), search
# latency and recall@10 for a big, a middle and a small agent, ingest through remember()
# beside a backfilling daemon and searches. Writes reports/bench-scale.md,
# reports/data/scale.json, reports/plots/scale.png. SCALE_SIZES=100000 runs one size;
# SCALE_ARGS passes more options (python -m bench.bench_scale --help).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
export MPLBACKEND=Agg MPLCONFIGDIR="$VAR/cache/matplotlib"
mkdir -p reports/data reports/plots
log "bench-scale: sizes ${SCALE_SIZES:-100000,1000000}"
# shellcheck disable=SC2086
"$VENV/bin/python" -m bench.bench_scale --sizes "${SCALE_SIZES:-100000,1000000}" ${SCALE_ARGS:-}
log "bench-scale: reports/bench-scale.md (${SECONDS} s)"
