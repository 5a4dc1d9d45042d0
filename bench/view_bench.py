"""Benchmark: the viewer (view/) on real sizes, each figure against plain reading of the files.

The data are capture files made by the capture stage's own serializer (bench/backlog.py):

- a 300-request Claude Code session of 150 MB, one growing conversation
  (`build_long_session`; every request resends the history, up to ~1 MB a file);
- 10,000 captures: the recorded 64-request session cycled over 157 days
  (`build_backlog`), 157 sessions.

The figures, each timed side by side with its baseline in the same run (alternating rounds,
the median of the per-round ratios, so the machine's speed and load cancel out):

1. first view of ``/sessions/<id>`` with the index cold (a new, empty state folder): the
   server's time for that request (Flask's test client: the viewer's own routes, index fill
   and rendering, no socket) ÷ ``json.load`` of all 300 files. Goal <= 0.5: the page must not
   read everything in full.
2. warm view (the same page again, index filled) ÷ ``json.load`` of the session's last file.
   Goal <= 3.
3. the session list ``/`` over the 10,000 captures, warm ÷ ``os.scandir`` of their day
   folders. Goal <= 20.
4. peak RSS of the real viewer (``python -m view``, a subprocess serving on 127.0.0.1) after
   opening that session over HTTP ÷ its RSS at start (serving, before any request).
   Goal <= 2.

``--quick`` shrinks the data (30 requests / 3 MB, 640 captures) and the rounds: a smoke test.

    python -m bench [--quick] view
    python -m bench.view_bench [--quick]
"""

from __future__ import annotations

import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import Result, standalone
from bench.backlog import LONG_SESSION_ID, build_backlog, build_long_session
from glass.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
GOAL_COLD = "<= 0.5"
GOAL_WARM = "<= 3"
GOAL_LIST = "<= 20"
GOAL_RSS = "<= 2"


@dataclass(frozen=True, kw_only=True)
class Size:
    """How big the data are."""

    requests: int
    megabytes: float
    captures: int
    rounds: int


FULL = Size(requests=300, megabytes=150, captures=10_000, rounds=5)
QUICK = Size(requests=30, megabytes=3, captures=640, rounds=2)


def write_config(folder: Path, *, port: int = 8082) -> Path:
    """A config.yaml for a viewer over `folder`/captures, with its own state folders."""
    path = folder / "config.yaml"
    path.write_text(
        "capture:\n  dir: captures\n"
        "analyze:\n  state_dir: analyzer-state\n  store: memories.jsonl\n"
        f"view:\n  listen_host: 127.0.0.1\n  port: {port}\n  state_dir: view-state\n",
        encoding="utf-8",
    )
    return path


def _fresh_state(config: Config) -> None:
    """An empty viewer state folder: the next request fills the index from nothing."""
    import shutil

    shutil.rmtree(config.view.state_path, ignore_errors=True)


def _timed(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def _json_load_all(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as f:
            json.load(f)


def _scandir_days(root: Path) -> int:
    count = 0
    with os.scandir(root) as days:
        for day in days:
            if day.is_dir():
                with os.scandir(day.path) as entries:
                    count += sum(1 for _ in entries)
    return count


def _get(client: object, url: str) -> bytes:
    """One GET through Flask's test client; anything but 200 is the benchmark's failure."""
    response = client.get(url)  # type: ignore[attr-defined]  # flask.testing.FlaskClient
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response.data


def _app(config: Config) -> object:
    from view.app import create_app

    return create_app(config).test_client()


def bench_session(folder: Path, *, size: Size) -> list[Result]:
    """Figures 1 and 2: the session page cold and warm, against json.load."""
    config = load_config(write_config(folder))
    paths = build_long_session(config.capture.dir, requests=size.requests, megabytes=size.megabytes)
    total = sum(p.stat().st_size for p in paths)
    url = f"/sessions/{LONG_SESSION_ID}"
    _json_load_all(paths)  # warm the page cache and the imports, for both sides
    _fresh_state(config)
    page = _get(_app(config), url)
    if b"All steps are done." not in page:  # the last answer: the page shows the whole session
        raise RuntimeError(f"{url} does not show the session's last turn")
    cold, warm = [], []
    cold_s, load_all_s, warm_s, load_last_s = [], [], [], []
    for _ in range(size.rounds):
        load_all = _timed(lambda: _json_load_all(paths))
        _fresh_state(config)
        view = functools.partial(_get, _app(config), url)
        first = _timed(view)
        again = statistics.median(_timed(view) for _ in range(3))
        load_last = statistics.median(_timed(lambda: _json_load_all(paths[-1:])) for _ in range(3))
        cold.append(first / load_all)
        warm.append(again / load_last)
        cold_s.append(first)
        load_all_s.append(load_all)
        warm_s.append(again)
        load_last_s.append(load_last)
    last_mb = paths[-1].stat().st_size / 1e6
    return [
        Result(
            name=f"view: session page, index cold ÷ json.load of its {len(paths)} files",
            ratio=round(statistics.median(cold), 3),
            goal=GOAL_COLD,
            detail=f"{statistics.median(cold_s) * 1000:,.0f} ms vs {statistics.median(load_all_s) * 1000:,.0f} ms"
            f" for json.load of {total / 1e6:,.0f} MB; median of {size.rounds} rounds",
        ),
        Result(
            name="view: session page, warm ÷ json.load of its last file",
            ratio=round(statistics.median(warm), 3),
            goal=GOAL_WARM,
            detail=f"{statistics.median(warm_s) * 1000:,.1f} ms vs {statistics.median(load_last_s) * 1000:,.1f} ms"
            f" for json.load of {last_mb:,.2f} MB; median of {size.rounds} rounds",
        ),
    ]


def bench_list(folder: Path, *, size: Size) -> list[Result]:
    """Figure 3: the session list over many captures, warm, against os.scandir of the days."""
    config = load_config(write_config(folder))
    paths = build_backlog(config.capture.dir, size.captures)
    listing = functools.partial(_get, _app(config), "/")
    fill = _timed(listing)  # the index fills once: a reference, not the figure
    if b'data-testid="session-row"' not in listing():
        raise RuntimeError("the session list shows no session")
    ratios, page_s, scan_s = [], [], []
    for _ in range(size.rounds):
        scanned = _timed(lambda: _scandir_days(config.capture.dir))
        listed = _timed(listing)
        ratios.append(listed / scanned)
        page_s.append(listed)
        scan_s.append(scanned)
    return [
        Result(
            name=f"view: session list over {len(paths):,} captures, warm ÷ os.scandir",
            ratio=round(statistics.median(ratios), 3),
            goal=GOAL_LIST,
            detail=f"{statistics.median(page_s) * 1000:,.1f} ms vs {statistics.median(scan_s) * 1000:,.2f} ms"
            f" for os.scandir of the day folders; the first (cold) list took {fill:,.1f} s;"
            f" median of {size.rounds} rounds",
        )
    ]


def _kib(pid: int, key: str) -> int:
    """A line of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {key}")


def _wait_listening(proc: subprocess.Popen[bytes], port: int, *, timeout: float = 60.0) -> None:
    """Until the viewer accepts connections on 127.0.0.1:`port` (no request: the index stays cold)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"python -m view exited {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"python -m view did not listen on port {port} within {timeout:.0f} s")


def bench_rss(folder: Path, *, size: Size) -> list[Result]:
    """Figure 4: the real viewer's peak RSS after opening the long session ÷ its RSS at start."""
    from tests.proxy import free_port

    port = free_port()
    config_path = write_config(folder, port=port)
    config = load_config(config_path)
    build_long_session(config.capture.dir, requests=size.requests, megabytes=size.megabytes)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "view", "--config", str(config_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(proc, port)
        time.sleep(1.0)  # let start-up settle: the figure is RSS while idle and serving
        start = _kib(proc.pid, "VmRSS")
        with urllib.request.urlopen(f"{base}/sessions/{LONG_SESSION_ID}", timeout=600) as r:
            r.read()
        peak = _kib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return [
        Result(
            name="view: peak RSS after opening the session ÷ RSS at start",
            ratio=round(peak / start, 3),
            goal=GOAL_RSS,
            detail=f"{peak / 1024:,.0f} MiB peak vs {start / 1024:,.0f} MiB serving before any request"
            f" (python -m view, {size.requests} requests, {size.megabytes:g} MB, index cold)",
        )
    ]


def run(quick: bool = False) -> list[Result]:
    size = QUICK if quick else FULL
    results: list[Result] = []
    for bench in (bench_session, bench_list, bench_rss):
        with tempfile.TemporaryDirectory(prefix="glass-view-bench-") as tmp:
            results += bench(Path(tmp), size=size)
    return results


def main(argv: list[str] | None = None) -> int:
    return standalone(run, prog="python -m bench.view_bench", doc=__doc__ or "", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
