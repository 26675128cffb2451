"""reports/bench.md and the README's figures, from the data of the last `make bench`.

Run by scripts/bench.sh after the parts. It reads reports/data/<part>.json (the key
figures and raw samples each part saved, bench.common) and reports/bench-<part>.md
(each part's own section), draws the plots (bench.plots) and writes:

- reports/bench.md: the machine, when each part ran, a table of the key figures of every
  benchmark each beside its baseline and the ratio, then each part's section with its
  plots, then the latest LoCoMo retrieval report (reports/eval-locomo.md, written by
  `make eval`, not by `make bench`; its date is the file's last commit, or its
  modification time when it has changed since);
- the README's block between FIGURES_BEGIN and FIGURES_END: the same table, the machine
  and dates, and links to the report and the plots.

Nothing here holds a figure: every number comes from the data files.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common, plots

log = logging.getLogger("bench.report")
PARTS = ("embedding", "search", "load", "fairness", "erasure", "ha")
TITLES = {
    "embedding": "embedding pipeline",
    "search": "search",
    "load": "load (pgbench)",
    "fairness": "fairness",
    "erasure": "erasure",
    "ha": "HA reads",
}
EVAL_REPORT = common.REPORTS / "eval-locomo.md"
README = common.ROOT / "README.md"
FIGURES_BEGIN = "<!-- bench figures: begin (written by make bench, python/bench/report.py) -->"
FIGURES_END = "<!-- bench figures: end -->"
DATE = "%Y-%m-%d %H:%M UTC"

Data = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One key figure: what it measures, its value, its baseline and the ratio."""

    benchmark: str
    measure: str
    result: str
    baseline: str
    ratio: str


def num(x: float) -> str:
    """A figure with the precision it deserves: 1,234 / 123 / 12.3 / 1.23."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def embedding_rows(d: Data) -> list[Row]:
    s = d["summary"]
    rows: list[Row] = []
    for key, what in (("short", "short episodes"), ("long", "long episodes")):
        e = s.get("efficiency", {}).get(key)
        if e:
            rows.append(
                Row(
                    "embedding pipeline",
                    f"throughput from insert to vectors stored (claim, chunk, encode, store), "
                    f"{e['episodes']:,} LoCoMo {'turns' if key == 'short' else 'sessions'} as "
                    f"{what}, {e['chunks']:,} chunks",
                    f"{num(e['pipeline_chunks_per_s'])} chunks/s",
                    f"bare `SentenceTransformer.encode` of the same chunks: "
                    f"{num(e['bare_chunks_per_s'])} chunks/s",
                    f"**{e['ratio']:.2f}** (target >= {e['target']})",
                )
            )
    f = s.get("freshness")
    if f:
        rows.append(
            Row(
                "embedding freshness",
                f"commit to vectors stored, {f['inserts']} single inserts on an idle daemon "
                "(database clock)",
                f"p50 {num(f['p50_ms'])} ms, p95 {num(f['p95_ms'])} ms",
                f"no baseline; target p95 < {f['target_p95_ms']:,.0f} ms",
                f"p95 = {f['p95_ms'] / f['target_p95_ms']:.2f} of the target",
            )
        )
    b = s.get("backfill")
    if b:
        rows.append(
            Row(
                "backfill",
                f"{b['episodes']:,} LoCoMo turns ({b['chunks']:,} chunks) in one transaction, "
                "commit to 100% coverage (real daemon)",
                f"{num(b['elapsed_s'])} s",
                f"bare encode of the same chunks: {num(b['bare_s'])} s",
                f"{b['ratio']:.2f} (bare time / backfill time)",
            )
        )
    for w in s.get("writes", {}).values():
        rows.append(
            Row(
                "write overhead",
                f"{w['rows']:,} episodes, {w['mode']}, through the enqueue trigger",
                f"{num(w['triggers_ms'])} ms",
                f"the same rows into a copy of the table without triggers: {num(w['copy_ms'])} ms",
                f"x{w['ratio']:.2f}",
            )
        )
    return rows


SEARCH_MEASURES = {
    "hybrid, query embedding excluded (cached)": "hybrid search, query vector cached (embedding excluded)",
    "hybrid, query embedded by the daemon (included)": "hybrid search, query embedded by the daemon (included)",
    "vector, the planner's choice": "vector search, the planner's plan",
    "vector, HNSW + RLS + iterative scan forced": "vector search, HNSW + RLS + iterative scan forced",
}
SEARCH_BASELINE = "exact ORDER BY distance, sequential scan (baseline)"


def search_rows(d: Data) -> list[Row]:
    s = d["summary"]
    lat = s["latency_ms"]
    base = lat.get(SEARCH_BASELINE)
    bench = f"search, {s['episodes']:,} episodes"
    rows: list[Row] = []
    for name, measure in SEARCH_MEASURES.items():
        got = lat.get(name)
        if not got or not base:
            continue
        rows.append(
            Row(
                bench,
                f"{measure}, top 10 for an agent holding {s['share']:.0%}, latency",
                f"p95 {num(got['p95'])} ms (p50 {num(got['p50'])})",
                f"exact `ORDER BY distance LIMIT 10` over the agent's chunks: p95 {num(base['p95'])} ms "
                f"(p50 {num(base['p50'])})",
                f"x{got['p95'] / base['p95']:.1f} (p95)",
            )
        )
    rows.append(
        Row(
            bench,
            "filtered recall@10 of vector search through HNSW + RLS + iterative scan "
            f"(the planner's plan: {s['recall_at_10']:.3f})",
            f"**{s['hnsw_recall_at_10']:.3f}**",
            f"exact search (recall 1 by definition); target >= {s['recall_target']}",
            f"{s['hnsw_recall_at_10']:.3f}",
        )
    )
    return rows


def load_rows(d: Data) -> list[Row]:
    s = d["summary"]
    runs = {(r["workload"], int(r["clients"])): r for r in s["runs"]}
    clients = sorted({c for _, c in runs})
    names = {"remember": "`remember()`", "hybrid search": "hybrid search (cached query vectors)"}
    rows: list[Row] = []
    for ours, base in s["baselines"].items():
        cs = [c for c in clients if (ours, c) in runs and (base, c) in runs]
        if not cs:
            continue
        at = f"at {' / '.join(str(c) for c in cs)} clients"

        def values(name: str, key: str, cs: list[int] = cs) -> str:
            return " / ".join(num(runs[(name, c)][key]) for c in cs)

        rows.append(
            Row(
                "load (pgbench)",
                f"{names.get(ours, ours)} throughput {at}",
                f"{values(ours, 'tps')} tps",
                f"{base}: {values(base, 'tps')} tps",
                " / ".join(f"{runs[(ours, c)]['tps'] / runs[(base, c)]['tps']:.3f}" for c in cs),
            )
        )
        rows.append(
            Row(
                "load (pgbench)",
                f"{names.get(ours, ours)} p95 latency {at}",
                f"{values(ours, 'p95')} ms",
                f"{base}: {values(base, 'p95')} ms",
                " / ".join(f"x{runs[(ours, c)]['p95'] / runs[(base, c)]['p95']:.1f}" for c in cs),
            )
        )
    return rows


def fairness_rows(d: Data) -> list[Row]:
    s = d["summary"]
    q, f = s["query_ms"], s["freshness_ms"]
    flood = f"during agent B's flood ({s['flood_episodes']} long episodes, importance 1.0)"
    return [
        Row(
            "fairness",
            f"agent A's `embed_query` latency {flood}",
            f"p95 {num(q['flood']['p95'])} ms (p50 {num(q['flood']['p50'])})",
            f"A alone: p95 {num(q['alone']['p95'])} ms (p50 {num(q['alone']['p50'])}); "
            f"target p95 < {s['query_target_ms']:.0f} ms",
            f"x{q['flood']['p95'] / q['alone']['p95']:.1f} (p95)",
        ),
        Row(
            "fairness",
            f"agent A's new episode, commit to vectors stored {flood}",
            f"max {num(f['flood']['max'])} ms (p50 {num(f['flood']['p50'])})",
            f"A alone: max {num(f['alone']['max'])} ms (p50 {num(f['alone']['p50'])}); "
            f"target < {s['freshness_target_ms']:,.0f} ms",
            f"x{f['flood']['p50'] / f['alone']['p50']:.1f} (p50)",
        ),
    ]


def erasure_rows(d: Data) -> list[Row]:
    s = d["summary"]
    b, w = s["writer_baseline"], s["writer_during"]
    what = f"drop_agent of {s['episodes']:,} episodes while another agent writes"
    return [
        Row(
            "erasure",
            f"{what}: the other agent's longest wait on a lock",
            f"**{num(s['max_lock_wait_ms'])} ms** (drop: {num(s['drop_seconds'])} s, "
            f"{s['batches']:,} batches)",
            f"the same writes before the drop: {num(s['baseline_max_lock_wait_ms'])} ms; "
            f"target <= {s['target_ms']} ms",
            f"{s['max_lock_wait_ms'] / s['target_ms']:.2f} of the target",
        ),
        Row(
            "erasure",
            f"{what}: the other agent's write latency p99 (max)",
            f"{num(w['p99'])} ms ({num(w['max'])})",
            f"before the drop: {num(b['p99'])} ms ({num(b['max'])})",
            f"x{w['p99'] / b['p99']:.1f} (p99)",
        ),
    ]


def ha_rows(d: Data) -> list[Row]:
    s = d["summary"]
    runs = s["runs"]
    base = runs[0]["tps"]
    return [
        Row(
            "HA reads",
            f"hybrid search tps with {' / '.join(str(len(r['nodes'])) for r in runs)} nodes serving reads "
            f"({s['clients']} pgbench clients in all, `make bench-ha`)",
            " / ".join(f"{r['tps']:.0f}" for r in runs),
            f"the leader alone: {base:.0f} tps",
            " / ".join(f"x{r['tps'] / base:.2f}" for r in runs),
        )
    ]


def file_date(path: Path) -> str:
    """When a report was written: its last commit if unchanged since, else its mtime."""
    rel = str(path.relative_to(common.ROOT))
    try:
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", rel],
            cwd=common.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not changed:
            committed = subprocess.run(
                ["git", "log", "-1", "--format=%cd", f"--date=format-local:{DATE}", "--", rel],
                cwd=common.ROOT,
                env=dict(os.environ, TZ="UTC"),
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            if committed:
                return committed
    except (OSError, subprocess.CalledProcessError) as exc:
        log.warning("git could not date %s: %s", rel, exc)
    return time.strftime(DATE, time.gmtime(path.stat().st_mtime))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def eval_rows(path: Path, date: str) -> list[Row]:
    """The key figure of `make eval`'s report: hybrid R@10 against its two baselines."""
    text = path.read_text()
    lines = text.splitlines()
    header = next((i for i, ln in enumerate(lines) if ln.startswith("| method |")), None)
    if header is None:
        log.warning("no method table in %s", path)
        return []
    cols = _cells(lines[header])
    table: dict[str, dict[str, str]] = {}
    for ln in lines[header + 2 :]:
        if not ln.startswith("|"):
            break
        cells = _cells(ln)
        table[cells[0]] = dict(zip(cols, cells, strict=False))
    try:
        ours = float(table["memory hybrid"]["overall R@10"])
        bm25 = float(table["BM25 (baseline)"]["overall R@10"])
        cosine = float(table["exact cosine (baseline)"]["overall R@10"])
    except (KeyError, ValueError) as exc:
        log.warning("unexpected method table in %s: %s", path, exc)
        return []
    m = re.search(r"(\d[\d,]*) questions", text)
    questions = f"{m.group(1)} questions" if m else "all questions"
    return [
        Row(
            f"LoCoMo retrieval (`make eval`, {date})",
            f"evidence recall@10 of hybrid search, {questions} of the development split",
            f"**{ours:.3f}**",
            f"BM25 over the same turns: {bm25:.3f}; exact cosine, same model: {cosine:.3f}",
            f"x{ours / bm25:.2f} BM25; x{ours / cosine:.2f} cosine",
        )
    ]


def table(rows: list[Row]) -> list[str]:
    out = [
        "| benchmark | measure | result | baseline (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {r.benchmark} | {r.measure} | {r.result} | {r.baseline} | {r.ratio} |" for r in rows
    ]
    return out


def demote(markdown: str, top: int = 2) -> str:
    """The section with its highest heading at level `top` (a part may start at #)."""
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", markdown, flags=re.M)]
    shift = top - min(levels) if levels else 0
    if shift <= 0:
        return markdown.strip()
    return re.sub(
        r"^(#+) ", lambda m: "#" * (len(m.group(1)) + shift) + " ", markdown, flags=re.M
    ).strip()


def machines_text(datas: dict[str, Data]) -> str:
    lines = {common.machine_line(d["machine"]) for d in datas.values()}
    if len(lines) == 1:
        return lines.pop()
    return "; ".join(f"{p}: {common.machine_line(d['machine'])}" for p, d in datas.items())


def runs_text(datas: dict[str, Data], eval_date: str | None) -> str:
    runs = [
        f"{TITLES[p]} {d['started']} to {d['finished'].split()[1]} "
        f"(load average at the end {d['machine']['load_average'][0]:.1f})"
        for p, d in datas.items()
    ]
    if eval_date:
        runs.append(f"LoCoMo retrieval: `make eval`, report of {eval_date}")
    return "; ".join(runs)


def build(readme: Path | None) -> str:
    datas = {p: d for p in PARTS if (d := common.load(p)) is not None}
    made = plots.make_all()
    rows: list[Row] = []
    for part, fn in (
        ("embedding", embedding_rows),
        ("search", search_rows),
        ("load", load_rows),
        ("fairness", fairness_rows),
        ("erasure", erasure_rows),
        ("ha", ha_rows),
    ):
        if part in datas:
            rows += fn(datas[part])
        elif part != "ha":
            log.warning("no data for part %s: run BENCH_PARTS=%s make bench", part, part)
    eval_date = file_date(EVAL_REPORT) if EVAL_REPORT.exists() else None
    if eval_date:
        rows += eval_rows(EVAL_REPORT, eval_date)
    machine = machines_text(datas) if datas else common.machine_line(common.machine())
    runs = runs_text(datas, eval_date)

    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (scripts/bench.sh) on {common.now_utc()}. Machine: {machine}.",
        "",
        f"Runs: {runs}. The machine is shared: whatever else runs at the same time slows a "
        "figure and, less often, its baseline.",
        "",
        "## Figures",
        "",
        "Every ratio compares with a baseline measured in the same run on the same machine "
        "(latency ratios: ours / baseline, so lower is better; throughput ratios: ours / "
        "baseline, so higher is better). The LoCoMo row comes from `make eval`, not from "
        "`make bench`.",
        "",
        *table(rows),
        "",
        "Plots: " + ", ".join(f"[{p.title}](plots/{p.name})" for p in made) + ".",
        "",
    ]
    for part in PARTS:
        section = common.REPORTS / f"bench-{part}.md"
        if section.exists():
            out += [demote(section.read_text()), ""]
            out += [f"![{p.title}](plots/{p.name})\n" for p in made if p.part == part]
    if eval_date:
        out += [
            f"## LoCoMo retrieval (written by `make eval`, not `make bench`; report of {eval_date})",
            "",
            demote(EVAL_REPORT.read_text(), top=3),
            "",
        ]
    report = "\n".join(out).rstrip() + "\n"
    (common.REPORTS / "bench.md").write_text(report)
    log.info("report in %s", common.REPORTS / "bench.md")
    if readme:
        update_readme(readme, rows, machine, runs, made)
    return report


def update_readme(
    readme: Path, rows: list[Row], machine: str, runs: str, made: list[plots.Plot]
) -> None:
    if not readme.exists():
        log.warning("no %s: figures not copied", readme)
        return
    text = readme.read_text()
    start, end = text.find(FIGURES_BEGIN), text.find(FIGURES_END)
    if start < 0 or end < start:
        log.warning(
            "%s has no figures block (%s ... %s): left alone", readme, FIGURES_BEGIN, FIGURES_END
        )
        return
    block = [
        FIGURES_BEGIN,
        f"Latest `make bench`: machine {machine}. Runs: {runs}.",
        "",
        *table(rows),
        "",
        "Full report with each part's details: [reports/bench.md](reports/bench.md). Plots: "
        + ", ".join(f"[{p.title}](reports/plots/{p.name})" for p in made)
        + ".",
        "",
    ]
    new = text[:start] + "\n".join(block) + text[end:]
    if new != text:
        readme.write_text(new)
        log.info("figures of %s refreshed", readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-report", description=__doc__)
    parser.add_argument("--readme", type=Path, default=README, help="README to refresh")
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    build(None if args.no_readme else args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
