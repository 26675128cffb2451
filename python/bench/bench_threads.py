"""Torch intra-op threads of the embed daemon: bare encode with 1 and with 2 threads.

Issue 15 left this open: the daemon ran with OMP_NUM_THREADS=2, and on an oversubscribed
machine each encode call slowed by an order of magnitude. This measures the bare model
(no database): one query text (what embed_query waits for) and a batch of 32 chunk-sized
texts (what a backfill encodes), with torch.set_num_threads(1) and (2) alternating in
one process, first as the machine is, then while `--hogs` busy processes load the CPU.
Timings are medians of the repeats; the ratio 2 threads / 1 thread is what matters.

    python -m bench.bench_threads [--repeats 15] [--hogs 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time

from embed_daemon.model import PACKAGED_SOURCES, resolve_source

log = logging.getLogger("bench.threads")

QUERY = "what did Caroline say about the adoption agency in May?"
CHUNK = (
    "Melanie told Caroline about the pottery class she had started, the bowls that cracked in "
    "the kiln, and the trip to the beach with the kids; Caroline said the support group had "
    "helped her, y que el proyecto de la agencia de adopción seguía adelante. "
) * 3


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def measure(model, repeats: int) -> dict[str, dict[int, float]]:
    import torch

    out: dict[str, dict[int, float]] = {"query": {}, "batch of 32": {}}
    for threads in (1, 2, 1, 2):  # alternating, best of the two rounds
        torch.set_num_threads(threads)
        q = _median_ms(lambda: model.encode([QUERY], normalize_embeddings=True), repeats)
        b = _median_ms(
            lambda: model.encode([CHUNK] * 32, batch_size=32, normalize_embeddings=True),
            max(3, repeats // 5),
        )
        out["query"][threads] = min(q, out["query"].get(threads, q))
        out["batch of 32"][threads] = min(b, out["batch of 32"].get(threads, b))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--hogs", type=int, default=2, help="busy processes for the loaded run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from sentence_transformers import SentenceTransformer

    name = next(iter(PACKAGED_SOURCES))
    model = SentenceTransformer(str(resolve_source(name)), device="cpu", local_files_only=True)
    model.encode([QUERY, CHUNK])  # warm up
    rows = []
    for condition in ("as the machine is", f"with {args.hogs} busy processes"):
        hogs: list[subprocess.Popen[bytes]] = []
        if condition.startswith("with"):
            hogs = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.hogs)
            ]
        try:
            load = os.getloadavg()[0]
            result = measure(model, args.repeats)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        for what, by_threads in result.items():
            rows.append(
                f"| {condition} (load {load:.1f}) | {what} | {by_threads[1]:.1f} | {by_threads[2]:.1f} "
                f"| x{by_threads[2] / by_threads[1]:.2f} |"
            )
    print(f"## Torch threads: bare encode ({name}, CPU, {os.cpu_count()} cores), medians")
    print()
    print("| machine | encode | 1 thread ms | 2 threads ms | 2 / 1 |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
