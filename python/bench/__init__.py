"""Every benchmark and evaluation of the project, their raw data, report and plots.

`make bench`: bench_embedding measures the embedding pipeline, bench_search search at
100,000 episodes, bench_load pgbench load, bench_fairness and bench_erasure the
neighbours' view, bench_ha_reads read scaling on the HA stack. `make eval`: locomo
(LoCoMo retrieval, cross-validated); `make eval-consolidation`: consolidation; `make
bench-scale`: bench_scale. Each make bench part
writes its section of the report (reports/bench-<part>.md) and its raw samples
(reports/data/<part>.json, through bench.common); bench.report then writes
reports/bench.md with the figures table, refreshes the README's figures and calls
bench.plots for the PNGs in reports/plots/.
"""
