"""`make bench`: the benchmarks of the project, their raw data, report and plots.

bench_embedding measures the embedding pipeline; evaluation.bench_search and
evaluation.bench_load measure search at 100,000 episodes and pgbench load. Each part
writes its section of the report (reports/bench-<part>.md) and its raw samples
(reports/data/<part>.json, through bench.common); bench.report then writes
reports/bench.md with the figures table, refreshes the README's figures and calls
bench.plots for the PNGs in reports/plots/.
"""
