"""PNG plots of the benchmarks' raw data (matplotlib, Agg backend: no display needed).

Reads the JSON files the parts of `make bench` leave in reports/data/ and draws, in
reports/plots/:

- search-latency.png: distribution (ECDF, log x) of one search's latency at 100,000
  episodes: hybrid with the query embedding excluded and included, vector, against the
  exact ORDER BY distance baseline;
- freshness.png: distribution (ECDF) of commit-to-embedded times, p50/p95 and the target;
- embedding.png: pipeline against bare encode, backfill, write overhead against a copy
  of the table without triggers;
- load-throughput.png: pgbench transactions/s and p50/p95 latency per client count,
  remember() against a bare INSERT and hybrid search against a bare ORDER BY;
- load-latency.png: distribution (ECDF, log x) of pgbench's per-transaction latencies.

Every figure carries the machine and the date of the run it comes from.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench import common

log = logging.getLogger("bench.plots")
PLOTS = common.REPORTS / "plots"
DPI = 100
COLORS = {"ours": "tab:blue", "ours2": "tab:orange", "ours3": "tab:green", "base": "tab:gray"}

Data = dict[str, Any]


@dataclass(frozen=True)
class Plot:
    """One PNG written: its file name under reports/plots/ and what it shows."""

    name: str
    title: str
    part: str


def _caption(fig: Figure, data: Data, what: str) -> None:
    """Machine and date of the run, at the bottom of the figure."""
    text = (
        f"{what}, run {data['started']}; machine: {common.machine_line(data['machine'])}; "
        f"load average at the end {data['machine']['load_average'][0]:.1f}"
    )
    fig.text(0.5, 0.01, textwrap.fill(text, 150), ha="center", va="bottom", fontsize=7)


def _ecdf(ax: Axes, values: Sequence[float], label: str, **style: Any) -> None:
    s = sorted(values)
    if not s:
        return
    n = len(s)
    ax.step(s, [(i + 1) / n for i in range(n)], where="post", label=label, **style)


def _plain_log(ax: Axes, axis: str = "x") -> None:
    """A log axis labelled 0.5, 1, 2, 5, 10 rather than in powers of ten."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.12g}"))
    target.set_minor_formatter(NullFormatter())


def _ecdf_axes(ax: Axes, xlabel: str, ylabel: str, legend_size: float) -> None:
    """The axes of ECDFs over a plain log x axis, the legend at the lower right."""
    ax.set_xscale("log")
    _plain_log(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size, loc="lower right")


def _clients(c: int) -> str:
    return f"{c} client" if c == 1 else f"{c} clients"


def _finish(fig: Figure, data: Data, what: str, out: Path, bottom: float) -> None:
    """Lays the figure out above the caption (bottom: its height), captions and saves it."""
    fig.tight_layout(rect=(0, bottom, 1, 1))
    _caption(fig, data, what)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    log.info("plot %s", out)


def search_latency(data: Data, out: Path) -> None:
    s = data["summary"]
    styles = {
        "hybrid, query embedding excluded (cached)": {"color": COLORS["ours"]},
        "hybrid, query embedded by the daemon (included)": {
            "color": COLORS["ours"],
            "linestyle": "--",
        },
        "vector, the planner's choice": {"color": COLORS["ours3"]},
        "vector, HNSW + RLS + iterative scan forced": {"color": COLORS["ours2"]},
        "exact ORDER BY distance, sequential scan (baseline)": {
            "color": COLORS["base"],
            "linewidth": 2.5,
        },
    }
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, values in data["series"].items():
        lat = s["latency_ms"].get(name)
        if not values or lat is None:
            continue
        label = f"{name}: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms (n={lat['n']})"
        _ecdf(ax, values, label, **styles.get(name, {}))
    _ecdf_axes(
        ax,
        "latency of one search, client side (ms, log scale)",
        "share of searches at most this latency",
        7.5,
    )
    ax.set_title(
        f"Search latency at {s['episodes']:,} episodes ({s['agents']} agents, "
        f"the searched one holds {s['share']:.0%}), top 10, synthetic vectors",
        fontsize=11,
    )
    _finish(fig, data, "make bench, part search", out, 0.05)


def freshness(data: Data, out: Path) -> None:
    f = data["summary"]["freshness"]
    fig, ax = plt.subplots(figsize=(9, 5))
    db = data["series"]["freshness, database clock"]
    writer = data["series"]["freshness, seen by the writer"]
    _ecdf(ax, db, "database clock: enqueued (in the commit) to vectors stored", color="tab:blue")
    _ecdf(
        ax,
        writer,
        "seen by the writer: commit returned to job seen done (2 ms polling)",
        color="tab:orange",
        linestyle="--",
    )
    for q, value, style in (("p50", f["p50_ms"], ":"), ("p95", f["p95_ms"], "-.")):
        ax.axvline(value, color="tab:blue", linestyle=style, linewidth=1)
        ax.annotate(
            f"{q} {value:.0f} ms",
            xy=(value, 0.04 if q == "p50" else 0.1),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            color="tab:blue",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    ax.axvline(f["target_p95_ms"], color="tab:red", linewidth=1.5, label="target: p95 < 1 s")
    _ecdf_axes(
        ax,
        "time from commit to the episode's vectors stored (ms, log scale)",
        "share of inserts at most this time",
        8,
    )
    ax.set_title(
        f"Embedding freshness: {f['inserts']} single inserts on an idle daemon "
        f"(p50 {f['p50_ms']:.0f} ms, p95 {f['p95_ms']:.0f} ms, max {f['max_ms']:.0f} ms)",
        fontsize=11,
    )
    _finish(fig, data, "make bench, part embedding", out, 0.05)


def _bars(
    ax: Axes,
    groups: list[str],
    ours: list[float],
    base: list[float],
    labels: tuple[str, str],
    fmt: str = "%.0f",
) -> None:
    x = range(len(groups))
    width = 0.38
    b1 = ax.bar([i - width / 2 for i in x], ours, width, label=labels[0], color=COLORS["ours"])
    b2 = ax.bar([i + width / 2 for i in x], base, width, label=labels[1], color=COLORS["base"])
    ax.bar_label(b1, fmt=fmt, fontsize=7)
    ax.bar_label(b2, fmt=fmt, fontsize=7)
    ax.set_xticks(list(x), groups, fontsize=8)
    ax.margins(y=0.15)
    ax.legend(fontsize=7, loc="upper left")


def embedding(data: Data, out: Path) -> bool:
    s = data["summary"]
    panels = [k for k in ("efficiency", "backfill", "writes") if k in s]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.6), squeeze=False)
    for ax, key in zip(axes[0], panels, strict=True):
        if key == "efficiency":
            cases = list(s["efficiency"].values())
            _bars(
                ax,
                [
                    f"{c['episodes']:,} episodes\n{c['chunks']:,} chunks\nratio {c['ratio']:.2f}"
                    for c in cases
                ],
                [c["pipeline_chunks_per_s"] for c in cases],
                [c["bare_chunks_per_s"] for c in cases],
                ("pipeline end to end", "bare encode (baseline)"),
            )
            ax.set_ylabel("chunks embedded per second")
            ax.set_title("Pipeline efficiency", fontsize=10)
        elif key == "backfill":
            b = s["backfill"]
            _bars(
                ax,
                [f"{b['episodes']:,} turns, {b['chunks']:,} chunks\nratio {b['ratio']:.2f}"],
                [b["elapsed_s"]],
                [b["bare_s"]],
                ("commit to 100% coverage", "bare encode (baseline)"),
                fmt="%.1f",
            )
            ax.set_ylabel("seconds")
            ax.set_title("Backfill", fontsize=10)
        else:
            w = list(s["writes"].values())
            _bars(
                ax,
                [f"{c['mode']}\nx{c['ratio']:.2f}".replace(", one", ",\none") for c in w],
                [c["triggers_ms"] for c in w],
                [c["copy_ms"] for c in w],
                ("through the triggers", "copy without triggers (baseline)"),
            )
            rows = w[0]["rows"]
            ax.set_ylabel(f"ms to write {rows:,} episodes")
            ax.set_title("Write overhead", fontsize=10)
    fig.suptitle(
        f"Embedding pipeline ({s.get('model', '')}, CPU), against baselines of the same run"
    )
    _finish(fig, data, "make bench, part embedding", out, 0.06)
    return True


def _runs(data: Data) -> dict[tuple[str, int], dict[str, float]]:
    return {(r["workload"], int(r["clients"])): r for r in data["summary"]["runs"]}


def load_throughput(data: Data, out: Path) -> None:
    runs = _runs(data)
    pairs = list(data["summary"]["baselines"].items())  # workload -> its bare baseline
    clients = sorted({c for _, c in runs})
    fig, axes = plt.subplots(2, len(pairs), figsize=(10, 7.5), squeeze=False)
    for col, (ours, base) in enumerate(pairs):
        top, bottom = axes[0][col], axes[1][col]
        for name, color in ((ours, COLORS["ours"]), (base, COLORS["base"])):
            got = [c for c in clients if (name, c) in runs]
            tps = [runs[(name, c)]["tps"] for c in got]
            top.plot(got, tps, marker="o", color=color, label=name)
            for c, t in zip(got, tps, strict=True):
                top.annotate(
                    f"{t:,.0f}", (c, t), xytext=(3, 3), textcoords="offset points", fontsize=7
                )
            for q, style in (("p50", "-"), ("p95", "--")):
                bottom.plot(
                    got,
                    [runs[(name, c)][q] for c in got],
                    marker="o",
                    linestyle=style,
                    color=color,
                    label=f"{name} {q}",
                )
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ax.set_xticks(clients, [str(c) for c in clients])
            ax.set_xlabel("concurrent clients (pgbench -c)")
            ax.set_yscale("log")
            _plain_log(ax, "y")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        top.set_ylabel("throughput (transactions/s, log scale)")
        top.set_title(f"{ours} vs {base} (baseline)", fontsize=10)
        bottom.set_ylabel("latency per transaction (ms, log scale)")
    s = data["summary"]
    fig.suptitle(
        f"pgbench load: {s['seconds']} s per run, one agent with {s['episodes']:,} episodes"
    )
    _finish(fig, data, "make bench, part load", out, 0.04)


def load_latency(data: Data, out: Path) -> None:
    pairs = list(data["summary"]["baselines"].items())
    runs = _runs(data)
    clients = sorted({c for _, c in runs})
    styles = dict(zip(clients, ("-", "--", ":", "-."), strict=False))
    fig, axes = plt.subplots(1, len(pairs), figsize=(11, 5), squeeze=False)
    for ax, (ours, base) in zip(axes[0], pairs, strict=True):
        for name, color in ((ours, COLORS["ours"]), (base, COLORS["base"])):
            for c in clients:
                values = data["series"].get(f"{name}, {c} clients")
                if values:
                    _ecdf(
                        ax,
                        values,
                        f"{name}, {_clients(c)} (p95 {runs[(name, c)]['p95']:.1f} ms)",
                        color=color,
                        linestyle=styles.get(c, "-"),
                    )
        _ecdf_axes(
            ax,
            "latency per transaction (ms, log scale)",
            "share of transactions at most this latency",
            7,
        )
        ax.set_title(f"{ours} vs {base} (baseline)", fontsize=10)
    fig.suptitle("pgbench load: distribution of per-transaction latency")
    _finish(fig, data, "make bench, part load", out, 0.05)


def make_all(directory: Path = common.DATA, out_dir: Path = PLOTS) -> list[Plot]:
    """Every plot whose data is there; returns what was drawn."""
    made: list[Plot] = []
    emb = common.load("embedding", directory)
    if emb:
        if "freshness" in emb["summary"]:
            freshness(emb, out_dir / "freshness.png")
            made.append(Plot("freshness.png", "Embedding freshness (ECDF)", "embedding"))
        if embedding(emb, out_dir / "embedding.png"):
            made.append(
                Plot("embedding.png", "Embedding pipeline against its baselines", "embedding")
            )
    search = common.load("search", directory)
    if search:
        search_latency(search, out_dir / "search-latency.png")
        n = search["summary"]["episodes"]
        made.append(
            Plot("search-latency.png", f"Search latency at {n:,} episodes (ECDF)", "search")
        )
    load = common.load("load", directory)
    if load:
        load_throughput(load, out_dir / "load-throughput.png")
        made.append(Plot("load-throughput.png", "pgbench throughput and latency", "load"))
        load_latency(load, out_dir / "load-latency.png")
        made.append(Plot("load-latency.png", "pgbench per-transaction latency (ECDF)", "load"))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-plots", description=__doc__)
    parser.add_argument("--data", type=Path, default=common.DATA)
    parser.add_argument("--out", type=Path, default=PLOTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    made = make_all(args.data, args.out)
    log.info("%d plots in %s", len(made), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
