"""Benchmark: compaction (capture/compact.py), disk saved, reading compressed, speed.

Three figures, each a ratio measured in one run:

1. Disk: bytes on disk after `compact` ÷ before (allocated blocks, `st_blocks`;
   the apparent sizes are in the detail), over the corpus sessions
   (tests/corpus.py) and over a 30-day synthetic set shaped like Claude Code
   2.x traffic (bench/backlog.py `build_days`). Goal <= 0.15.
2. Reading compressed: `python -m analyze --once` over a backlog compacted to
   `.json.gz` ÷ the same backlog plain (bench/backlog.py `build_sessions`, the
   analyzer run and timing of bench/backlog_bench.py, start-up subtracted),
   rounds alternating the two sides, median. Goal <= 1.3.
3. Compaction speed: MB/s of `compact.run` (parse check, gzip, three fsyncs per
   file) ÷ MB/s of `gzip -6 -k` on the command line over copies of the same
   files (one process for all of them), rounds alternating, median. Goal >= 0.7.

    python -m bench compact [--quick]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import Result
from bench.backlog import build_days, build_sessions

TODAY = date(2030, 1, 1)
"""Later than every synthetic day: all of them are old enough to compress."""


def _disk(root: Path) -> tuple[int, int]:
    """(allocated bytes, apparent bytes) of the capture files under `root`."""
    allocated = apparent = 0
    for path in root.glob("*/*.json*"):
        st = path.stat()
        allocated += st.st_blocks * 512
        apparent += st.st_size
    return allocated, apparent


def _compact(root: Path) -> float:
    from capture import compact

    t0 = time.perf_counter()
    summary = compact.run(
        root, compress_after_days=7, today=TODAY, now=time.time() + 7200, progress=False
    )
    if summary.unparsable or summary.disk_full:
        raise RuntimeError(f"compaction did not complete: {summary.line()}")
    return time.perf_counter() - t0


def disk_ratio(name: str, build) -> Result:
    with tempfile.TemporaryDirectory(prefix="glass-compact-bench-") as tmp:
        root = Path(tmp) / "captures"
        paths = build(root)
        before, before_apparent = _disk(root)
        _compact(root)
        after, after_apparent = _disk(root)
    return Result(
        name=f"compaction: disk after / before, {name}",
        ratio=after / before,
        goal="<= 0.15",
        detail=f"{len(paths):,} files, {before / 1e6:.1f} -> {after / 1e6:.1f} MB on disk;"
        f" apparent {before_apparent / 1e6:.1f} -> {after_apparent / 1e6:.1f} MB"
        f" ({after_apparent / before_apparent:.3f}); gzip level 6, file by file",
    )


def reading_compressed(*, sessions: int, turns: int, rounds: int) -> Result:
    from bench.backlog_bench import _config, _once, _reset
    from tests.standin import ForcedToolResponder, StandIn

    files = sessions * turns
    with (
        tempfile.TemporaryDirectory(prefix="glass-compact-bench-") as tmp,
        StandIn(ForcedToolResponder(lambda request: {"memories": []})) as api,
    ):
        folder = Path(tmp)
        plain, packed, empty = folder / "plain", folder / "packed", folder / "empty"
        empty.mkdir()
        build_sessions(plain, sessions=sessions, turns=turns)
        shutil.copytree(plain, packed)
        _compact(packed)
        configs = {c: _config(folder, c, api.url) for c in (plain, packed, empty)}
        ratios: list[float] = []
        times: dict[Path, list[float]] = {plain: [], packed: []}
        for i in range(rounds + 1):  # the first round warms caches and is not counted
            got = {}
            for side in (plain, packed) if i % 2 else (packed, plain):
                _reset(side)
                start, run, summary = _once(configs[empty], configs[side])
                if f"{files} files ({files} processed" not in summary:
                    raise RuntimeError(f"not every capture was processed: {summary}")
                got[side] = run - start
            if i:
                ratios.append(got[packed] / got[plain])
                for side in got:
                    times[side].append(got[side])
    return Result(
        name=f"analyze --once: {files:,} compressed captures / the same plain",
        ratio=statistics.median(ratios),
        goal="<= 1.3",
        detail=f"{statistics.median(times[packed]):.2f} vs {statistics.median(times[plain]):.2f} s"
        f" (start-up not counted), median of {rounds} alternating rounds",
    )


def speed(*, days: int, rounds: int) -> Result:
    gzip_bin = shutil.which("gzip")
    if gzip_bin is None:
        raise RuntimeError("gzip is not on PATH")
    with tempfile.TemporaryDirectory(prefix="glass-compact-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "source"
        paths = build_days(source, days=days)
        size = sum(p.stat().st_size for p in paths)
        ratios, ours, theirs = [], [], []
        for i in range(rounds + 1):
            got = {}
            for side in ("glass", "gzip") if i % 2 else ("gzip", "glass"):
                work = folder / side
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(source, work)
                os.sync()
                if side == "glass":
                    got[side] = _compact(work)
                else:
                    names = [str(p) for p in sorted(work.glob("*/*.json"))]
                    t0 = time.perf_counter()
                    subprocess.run([gzip_bin, "-6", "-k", *names], check=True)
                    got[side] = time.perf_counter() - t0
            if i:
                ratios.append(got["gzip"] / got["glass"])
                ours.append(size / got["glass"] / 1e6)
                theirs.append(size / got["gzip"] / 1e6)
    return Result(
        name="compaction MB/s / gzip -6 on the command line",
        ratio=statistics.median(ratios),
        goal=">= 0.7",
        detail=f"{statistics.median(ours):.1f} vs {statistics.median(theirs):.1f} MB/s over"
        f" {len(paths):,} files ({size / 1e6:.0f} MB), fsyncs included;"
        f" median of {rounds} alternating rounds",
    )


def run(quick: bool = False) -> list[Result]:
    from tests import corpus

    sessions = (corpus.SESSION_64, corpus.SESSION_2X, corpus.SESSION_1058)
    days = 3 if quick else 30
    return [
        disk_ratio("corpus sessions", lambda root: corpus.write_sessions(root, sessions)),
        disk_ratio(f"{days}-day synthetic 2.x set", lambda root: build_days(root, days=days)),
        reading_compressed(sessions=10 if quick else 100, turns=10, rounds=1 if quick else 5),
        speed(days=2 if quick else 10, rounds=1 if quick else 5),
    ]


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main(["compact", *sys.argv[1:]]))
