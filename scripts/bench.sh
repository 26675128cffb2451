#!/usr/bin/env bash
# make bench: every benchmark of the project, each figure beside a baseline measured in
# the same run. Each part writes reports/bench-<part>.md; reports/bench.md gathers them
# with the machine they ran on. Parts: embedding, search, load (default: all).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pg_env_super
cd "$ROOT"
export PYTHONPATH=$ROOT/python HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$VAR/cache/hf"
mkdir -p reports
parts=${BENCH_PARTS:-embedding search load}
for part in $parts; do
  log "bench: $part"
  case $part in
    embedding) "$VENV/bin/python" python/bench/bench_embedding.py --output reports/bench-embedding.md ;;
    search) "$VENV/bin/python" -m evaluation.bench_search --report reports/bench-search.md ;;
    load) "$VENV/bin/python" -m evaluation.bench_load --report reports/bench-load.md ;;
    *) die "unknown bench part $part (embedding, search, load)" ;;
  esac
done
{
  echo "# Benchmarks"
  echo
  echo "Machine: $(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), PostgreSQL $(psql -X -At -c 'SHOW server_version'), no GPU. $(date -u +%Y-%m-%d)."
  echo
  for part in embedding search load; do
    [ -f "reports/bench-$part.md" ] && { cat "reports/bench-$part.md"; echo; }
  done
} > reports/bench.md
log "bench: report in reports/bench.md"
