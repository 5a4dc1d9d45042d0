"""Benchmark: the usage report's throughput against plain `json.loads`.

2,000 capture files are built from the real recorded session
(tests/data/corpus, 64 requests, cycled over distinct days with distinct
message ids so that nothing is deduplicated away). Then, alternating in the
same run so both see the same warm page cache:

  (a) the floor: `json.loads(path.read_bytes())` over the 2,000 files;
  (b) the report: `analyze.usage.scan.build_report()` over the same folder, the
      whole aggregation (listing, parsing, scoping, pricing, dedupe), without
      printing.

The figure is (b)'s captures per second divided by (a)'s, the median of the
per-round ratios (each round times (a) and (b) back to back, so drift and
load from other processes cancel): 1.0 would mean the report costs nothing
beyond parsing.

    python -m bench [--quick] usage
    python -m bench.usage_bench [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analyze.usage import scan
from bench import Result, standalone
from bench.backlog import build_backlog
from glass.config import load_config

FILES = 2_000
GOAL = ">= 0.8"
"""Report throughput at least this share of plain json.loads."""
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, kw_only=True)
class Timing:
    json_s: float
    report_s: float


def _time_json(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for path in paths:
        json.loads(path.read_bytes())
    return time.perf_counter() - t0


def _time_report(root: Path, prices: dict) -> float:
    t0 = time.perf_counter()
    result = scan.build_report(captures_dir=root, prices=prices, by="day")
    elapsed = time.perf_counter() - t0
    assert result.total.requests == FILES and result.bad == 0 and result.duplicates == 0, result
    return elapsed


def measure(*, rounds: int) -> tuple[list[Timing], int]:
    """Alternate (a) and (b) `rounds` times after one warm-up; the timings and the bytes read."""
    prices = load_config(ROOT / "config.yaml").usage.prices
    with tempfile.TemporaryDirectory(prefix="glass-usage-bench-") as tmp:
        root = Path(tmp) / "captures"
        paths = build_backlog(root, FILES)
        size = sum(p.stat().st_size for p in paths)
        _time_json(paths), _time_report(root, prices)  # warm the page cache and imports
        timings = []
        for _ in range(rounds):
            json_s = _time_json(paths)
            report_s = _time_report(root, prices)
            timings.append(Timing(json_s=json_s, report_s=report_s))
    return timings, size


def run(quick: bool = False) -> list[Result]:
    """One result: report captures/s ÷ json.loads captures/s over the same 2,000 files."""
    timings, size = measure(rounds=3 if quick else 9)
    ratio = statistics.median(t.json_s / t.report_s for t in timings)
    json_rate = FILES / statistics.median(t.json_s for t in timings)
    report_rate = FILES / statistics.median(t.report_s for t in timings)
    detail = (
        f"{report_rate:,.0f} captures/s for the report vs {json_rate:,.0f}/s for json.loads"
        f" over {FILES:,} files ({size / FILES / 1024:,.0f} KiB each on average),"
        f" median of {len(timings)} alternating rounds"
    )
    return [
        Result(
            name="usage: report throughput ÷ json.loads",
            ratio=round(ratio, 3),
            goal=GOAL,
            detail=detail,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    return standalone(run, prog="python -m bench.usage_bench", doc=__doc__ or "", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
