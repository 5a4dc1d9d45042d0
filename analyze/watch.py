"""Drive the Analyzer: once over the backlog, or continuously with watchdog.

Watch mode starts the observer *before* reading the backlog, so a capture
written meanwhile is seen either by the listing or by an event (offering a
capture twice is harmless). Events only put capture paths in a queue; all
work happens on the main thread. A new day folder is listed when it appears
(files may land in it before its watch is set up), and the whole tree is
listed again every few minutes as a safety net for missed events.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from analyze.captures import DAY_FOLDER, CaptureRef, iter_captures, ref_for
from analyze.pipeline import Analyzer
from analyze.progress import Progress

logger = logging.getLogger("glass.analyze")

TICK_S = 1.0
"""Longest sleep of the watch loop: how soon a stop or a due batch is noticed."""
RESCAN_S = 300.0


def run_once(
    analyzer: Analyzer,
    *,
    stop: threading.Event,
    progress: bool | None = None,
    settle: bool = True,
) -> None:
    """Process every pending capture that is ready, then return.

    With `settle`, files that did not parse and changed less than SETTLE_S
    ago (maybe still being written) are waited for and read again, so that
    the run ends with each of them either processed or quarantined.
    """
    refs = list(analyzer.pending())
    with Progress(len(refs), label="analyzing", enabled=progress) as bar:
        for ref in refs:
            if stop.is_set():
                break
            analyzer.offer(ref)
            bar.advance(note=f"{analyzer.stats.memories} memories")
            if analyzer.batch_full():
                analyzer.flush()
    analyzer.flush()
    if settle:
        _settle_unreadable(analyzer, stop=stop)


def _settle_unreadable(analyzer: Analyzer, *, stop: threading.Event) -> None:
    while not stop.is_set():
        unreadable = [p for p in analyzer.parked.values() if p.unreadable]
        if not unreadable:
            return
        wait = max(0.0, min(p.until for p in unreadable) - analyzer.clock())
        logger.info(
            "%d unreadable file%s, checked again in %.0f s",
            len(unreadable),
            "" if len(unreadable) == 1 else "s",
            wait,
        )
        stop.wait(wait)
        analyzer.recheck_parked()
        analyzer.flush()


class _CaptureEvents(FileSystemEventHandler):
    """Puts message captures that appear (created, moved in, closed) on a queue."""

    def __init__(self, root: Path, inbox: queue.SimpleQueue) -> None:
        self.root, self.inbox = root, inbox

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            folder = _path(event.src_path)
            if DAY_FOLDER.match(folder.name):
                self.inbox.put(folder)  # list it: files may predate its watch
            return
        self._offer(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._offer(event.dest_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._offer(event.src_path)

    def _offer(self, raw: str | bytes) -> None:
        path = _path(raw)
        if path.name.startswith(".") or not path.name.endswith(
            ("_messages.json", "_messages.json.gz")
        ):
            return  # a `.gz` swapped in by compaction has its plain twin's identity: no new capture
        ref = ref_for(self.root, path)
        if ref is not None:
            self.inbox.put(ref)


def _path(raw: str | bytes) -> Path:
    """An event's path (watchdog types it str | bytes)."""
    return Path(raw.decode() if isinstance(raw, bytes) else raw)


POLL_S = 3.0
"""How often the polling observer re-lists the capture tree (it stats every file)."""


def make_observer(kind: str) -> BaseObserver:
    return PollingObserver(timeout=POLL_S) if kind == "polling" else Observer()


def watch(
    analyzer: Analyzer, *, observer_kind: str, stop: threading.Event, progress: bool | None = None
) -> None:
    root = analyzer.root
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    observer = make_observer(observer_kind)
    observer.schedule(_CaptureEvents(root, inbox), str(root), recursive=True)
    observer.start()
    logger.info("watching %s (%s observer)", root, observer_kind)
    try:
        run_once(analyzer, stop=stop, progress=progress, settle=False)
        last_scan = time.monotonic()
        while not stop.is_set():
            wait = analyzer.seconds_until_due()
            _drain(analyzer, inbox, timeout=TICK_S if wait is None else min(wait, TICK_S))
            if analyzer.parked:
                analyzer.recheck_parked()
            if time.monotonic() - last_scan >= RESCAN_S:
                for ref in analyzer.pending():
                    analyzer.offer(ref)
                last_scan = time.monotonic()
            if analyzer.batch_due():
                analyzer.flush()
        analyzer.flush()  # finish what was in flight before exiting
    finally:
        observer.stop()
        observer.join(timeout=5)


def _drain(analyzer: Analyzer, inbox: queue.SimpleQueue, *, timeout: float) -> None:
    try:
        item = inbox.get(timeout=max(timeout, 0.01))
    except queue.Empty:
        return
    while True:
        if isinstance(item, CaptureRef):
            analyzer.offer(item)
        else:  # a new day folder
            for ref in iter_captures(analyzer.root, endpoint="messages"):
                if ref.day == item.name:
                    analyzer.offer(ref)
        if analyzer.batch_full():
            analyzer.flush()
        try:
            item = inbox.get_nowait()
        except queue.Empty:
            return
