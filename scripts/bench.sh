#!/usr/bin/env bash
# make bench: every benchmark of the project, each figure beside a baseline measured in
# the same run. Parts: embedding, search, load, fairness, erasure (default: all; BENCH_PARTS="search load"
# runs some; part ha, read scaling on the HA stack, runs only when asked: make bench-ha; part sharing, what sharing costs a search, only with BENCH_PARTS=sharing). Each part writes its section (reports/bench-<part>.md) and its figures and
# raw samples (reports/data/<part>.json); then python/bench/report.py draws the plots
# (reports/plots/*.png), writes reports/bench.md (figures table, sections, plots, the
# machine, and the latest `make eval` report) and refreshes the README's figures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
export MPLBACKEND=Agg MPLCONFIGDIR="$VAR/cache/matplotlib"
mkdir -p reports/data reports/plots
parts=${BENCH_PARTS:-embedding search load fairness erasure}
for part in $parts; do
  started=$SECONDS
  log "bench: $part"
  case $part in
    embedding) "$VENV/bin/python" -m bench.bench_embedding --output reports/bench-embedding.md --data reports/data/embedding.json ;;
    search) "$VENV/bin/python" -m bench.bench_search --report reports/bench-search.md --data reports/data/search.json ;;
    load) "$VENV/bin/python" -m bench.bench_load --report reports/bench-load.md --data reports/data/load.json ;;
    fairness) "$VENV/bin/python" -m bench.bench_fairness --report reports/bench-fairness.md ;;
    erasure) "$VENV/bin/python" -m bench.bench_erasure --report reports/bench-erasure.md --data reports/data/erasure.json ;;
    # not in the default parts: what sharing costs a search (baseline commit against this tree)
    sharing) "$VENV/bin/python" -m bench.bench_sharing --report reports/bench-sharing.md --data reports/data/sharing.json ;;
    # not in the default parts: it needs the HA stack (make up-ha; make bench-ha runs it)
    ha) "$VENV/bin/python" -m bench.bench_ha_reads --report reports/bench-ha.md ;;
    *) die "unknown bench part $part (embedding, search, load, fairness, erasure, ha, sharing)" ;;
  esac
  log "bench: $part took $((SECONDS - started)) s"
done
"$VENV/bin/python" -m bench.report
log "bench: report in reports/bench.md, plots in reports/plots/ (${SECONDS} s in all)"
