"""The running proxy's compaction: once after start, then daily, in a low-priority child.

The addon's `running` hook starts a `Schedule` (a daemon thread), `done` stops
it. The thread only starts `python -m capture --config <file> compact` as a
separate process at idle CPU priority (SCHED_IDLE, else nice 19, like the
writer: capture/writer.py) and waits for it; nothing runs on mitmproxy's event
loop. The child's summary line is logged through mitmproxy, its errors as
warnings (mitmdump exits on an error logged during startup).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from capture.writer import lower_priority
from glass.config import Config

logger = logging.getLogger("glass.capture")

DAY_S = 86_400.0
ROOT = Path(__file__).resolve().parent.parent
"""The project folder: the child runs there, so `-m capture` is found."""


def compact_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "capture", "--config", str(config.absolute()), "compact"]


def proxy_args(config: Config) -> list[str]:
    """The mitmdump options that make the addon compact by `config` (none when it says off)."""
    cfg = config.capture
    if config.path is None or (cfg.compress_after_days is None and cfg.delete_after_days is None):
        return []
    return ["--set", f"capture_compact_config={config.path.absolute()}"]


def describe(config: Config) -> str:
    """What the proxy's compaction will do, for `make capture`'s start line."""
    cfg = config.capture
    if config.path is None:
        return "compaction off (no config file)"
    if not proxy_args(config):
        return "compaction off (compress_after_days and delete_after_days are null)"
    parts = []
    if cfg.compress_after_days is not None:
        parts.append(f"gzips days older than {cfg.compress_after_days} days")
    if cfg.delete_after_days is not None:
        keep = " (keeping days memories cite)" if cfg.keep_days_with_memories else ""
        parts.append(f"deletes days older than {cfg.delete_after_days} days{keep}")
    return "compaction " + " and ".join(parts) + ", now and daily (`make compact --dry-run`: what)"


class Schedule:
    """Runs `command` now, then every `interval_s`, until `stop()`."""

    def __init__(self, command: Sequence[str], *, interval_s: float = DAY_S) -> None:
        self.command, self.interval_s = list(command), interval_s
        self.runs = 0
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._loop, name="glass-compaction", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # a kill at any instant is safe: see capture/compact.py
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._run_once()
            except Exception:  # a thread that dies would end compaction silently: log, go on
                logger.warning("compaction could not run", exc_info=True)
            self._stop.wait(self.interval_s)

    def _run_once(self) -> None:
        self._proc = proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            close_fds=True,
            cwd=ROOT,
        )
        lower_priority(proc.pid)
        out, err = proc.communicate()
        self.runs += 1
        for line in out.splitlines():
            logger.info("Glass: %s", line)
        for line in err.splitlines():
            logger.warning("Glass: %s", line)
        if proc.returncode not in (0, -15):
            logger.warning("Glass: compaction exited with %s", proc.returncode)
