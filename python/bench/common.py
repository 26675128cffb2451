"""What every benchmark part shares: the machine it ran on, and its raw data file.

Each part saves one JSON file under reports/data/ (``save``): when it ran, on which
machine, its key figures (``summary``, computed from every sample) and its samples
(``series``, in milliseconds, at most ``MAX_POINTS`` per series). A longer series is
kept as evenly spaced quantiles of its sorted values (the smallest and the largest
included), which is all a distribution plot needs.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger("bench.common")
ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
DATA = REPORTS / "data"
MAX_POINTS = 5000

Machine = dict[str, Any]


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) by the nearest rank, as the reports print it."""
    if not values:
        return float("nan")
    s = sorted(values)
    return float(s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))])


def subsample(values: Sequence[float], limit: int = MAX_POINTS, digits: int = 3) -> list[float]:
    """The values sorted, rounded, and cut to at most `limit` evenly spaced quantiles."""
    s = sorted(values)
    if len(s) > limit > 1:
        step = (len(s) - 1) / (limit - 1)
        s = [s[round(i * step)] for i in range(limit)]
    return [round(float(v), digits) for v in s]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _postgres_version() -> str:
    """The server's version over the libpq environment scripts/bench.sh sets (the
    maintenance database: a part may point PGDATABASE at a scratch database it drops)."""
    try:
        with psycopg.connect(dbname="postgres", connect_timeout=10) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except psycopg.Error as exc:
        log.warning("PostgreSQL version unknown: %s", exc)
        return "unknown"


def machine() -> Machine:
    """The machine this process runs on, and how busy it is right now."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(_memory_gib(), 1),
        "os": _os_name(),
        "postgres": _postgres_version(),
        "gpu": bool(shutil.which("nvidia-smi")),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(m: Machine) -> str:
    """One line naming the machine, as the reports and the plots print it."""
    return (
        f"{m['cores']} CPU cores ({m['cpu']}), {m['memory_gib']:.0f} GiB RAM, {m['os']}, "
        f"PostgreSQL {m['postgres'].split()[0]}, {'a GPU' if m['gpu'] else 'no GPU'}"
    )


def now_utc() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def publish(text: str, report: Path | None) -> None:
    """A benchmark's section: printed, and written to report when given."""
    print(text)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text + "\n")


def save(
    part: str,
    started: str,
    summary: dict[str, Any],
    series: dict[str, Sequence[float]],
    *,
    limit: int = MAX_POINTS,
    path: Path | None = None,
) -> Path:
    """Writes reports/data/<part>.json (or `path`): the run, its figures and samples."""
    m = machine()
    payload = {
        "part": part,
        "started": started,
        "finished": now_utc(),
        "machine": m,
        "summary": summary,
        "series": {name: subsample(v, limit) for name, v in series.items()},
        "series_sizes": {name: len(v) for name, v in series.items()},
    }
    target = path or DATA / f"{part}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    tmp.replace(target)
    log.info("raw data of %s written to %s", part, target)
    return target


def load(part: str, directory: Path = DATA) -> dict[str, Any] | None:
    """The data file of a part, or None when that part has not run here."""
    path = directory / f"{part}.json"
    if not path.exists():
        return None
    return dict(json.loads(path.read_text()))
