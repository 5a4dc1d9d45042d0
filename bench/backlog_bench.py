"""Benchmark: `python -m analyze --once` over a backlog of many short sessions.

1,000 captures in 100 conversations of 10 main-loop turns (bench/backlog.py
`build_sessions`), analysed by the real command (`python -m analyze --once`,
real SDK, default config) against an instant local stand-in model
(tests/standin.py, in this process): 100 extraction calls. The command runs
in a process of its own, `python -m bench.backlog_bench --time-once EMPTY
CONFIG`, which imports `analyze.cli` and calls `analyze.cli.main(["--config",
…, "--once"])` three times: on an empty captures folder (a warm-up), on it
again (timed: the start-up, i.e. the backend, ledger and store set up), then
on the backlog (timed). The backlog's time less the start-up is compared with
read + `json.loads` of the same files in this process. Rounds alternate the
sides; the figure is the median of json.loads time ÷ analyzer time (1.0: as
fast as parsing alone).

    python -m bench backlog [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Result
from bench.backlog import build_sessions

ROOT = Path(__file__).resolve().parent.parent
GOAL = ">= 0.5"


def _config(folder: Path, captures: Path, base_url: str) -> Path:
    path = folder / f"{captures.name}.yaml"
    path.write_text(
        f"capture:\n  dir: {json.dumps(str(captures))}\n"
        f"analyze:\n  base_url: {json.dumps(base_url)}\n  incomplete_after_s: 0\n",
        encoding="utf-8",
    )
    return path


TIMED = "bench-timed-once: "


def _once(empty: Path, config: Path) -> tuple[float, float, str]:
    """(start-up s, backlog s, the backlog run's summary line), in a process of its own."""
    env = {**os.environ, "ANTHROPIC_API_KEY": "bench", "PYTHONPATH": str(ROOT)}
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "bench.backlog_bench", "--time-once", str(empty), str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"analyze --once exited {done.returncode}: {done.stderr[-2000:]}")
    timed = next(line for line in done.stdout.splitlines() if line.startswith(TIMED))
    start, run = (float(t) for t in timed.removeprefix(TIMED).split())
    summary = [line for line in done.stderr.splitlines() if line.startswith("glass analyze:")][-1]
    return start, run, summary


def _time_once(empty: str, config: str) -> int:
    """The child: `analyze --once` on EMPTY twice (warm-up, start-up), then on CONFIG."""
    from analyze import cli

    times = []
    for path in (empty, empty, config):
        t0 = time.perf_counter()
        code = cli.main(["--config", path, "--once"])
        times.append(time.perf_counter() - t0)
        if code != 0:
            return code
    print(f"{TIMED}{times[1]} {times[2]}", flush=True)
    return 0


def _loads(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        json.loads(p.read_bytes())
    return time.perf_counter() - t0


def _reset(captures: Path) -> None:
    shutil.rmtree(captures / ".analyze", ignore_errors=True)
    (captures / "memories.jsonl").unlink(missing_ok=True)


def measure(*, sessions: int, turns: int, rounds: int) -> Result:
    from tests.standin import ForcedToolResponder, StandIn

    files = sessions * turns
    with (
        tempfile.TemporaryDirectory(prefix="glass-backlog-bench-") as tmp,
        StandIn(ForcedToolResponder(lambda request: {"memories": []})) as api,
    ):
        folder = Path(tmp)
        captures, empty = folder / "captures", folder / "empty"
        empty.mkdir()
        paths = build_sessions(captures, sessions=sessions, turns=turns)
        size = sum(p.stat().st_size for p in paths)
        config, empty_config = (_config(folder, c, api.url) for c in (captures, empty))
        ratios, loads_s, run_s, start_s = [], [], [], []
        summary = ""
        for i in range(rounds + 1):  # the first round warms caches and is not counted
            t_loads = _loads(paths)
            _reset(captures)
            api.requests.clear()
            t_start, t_run, summary = _once(empty_config, config)
            calls = len(api.message_requests)
            if f"{files} files ({files} processed" not in summary:
                raise RuntimeError(f"not every capture was processed: {summary}")
            if i:
                ratios.append(t_loads / (t_run - t_start))
                loads_s.append(t_loads)
                run_s.append(t_run - t_start)
                start_s.append(t_start)
    work = statistics.median(run_s)
    return Result(
        name=f"analyze --once: {files:,} captures in {sessions} sessions / json.loads",
        ratio=statistics.median(ratios),
        goal=GOAL,
        detail=f"{size / 1e6:.0f} MB, {calls} calls: analyzer {files / work:,.0f}/s"
        f" (start-up {statistics.median(start_s):.2f} s not counted), json.loads"
        f" {files / statistics.median(loads_s):,.0f}/s; median of {rounds} rounds",
    )


def run(quick: bool = False) -> list[Result]:
    if quick:
        return [measure(sessions=10, turns=10, rounds=1)]
    return [measure(sessions=100, turns=10, rounds=5)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--time-once"]:
        sys.exit(_time_once(sys.argv[2], sys.argv[3]))
    from bench.__main__ import main

    sys.exit(main(["backlog", *sys.argv[1:]]))
